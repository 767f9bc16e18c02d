//! What a test does with HTTP answers and forms: check a problem+json, read a 200's JSON, read a
//! page's hidden fields and a response's redirect and session cookie, send a form.

use serde_json::Value;

/// Assert `response` is a problem+json with `status` and `code` and every member RFC 9457 and the
/// profile ask for; return its body.
pub async fn check_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    for key in ["type", "title", "detail", "instance", "traceId"] {
        assert!(body[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing in {body}");
    }
    body
}

/// The fields a problem names (`invalid-parameters[].property`).
pub fn invalid_properties(problem: &Value) -> Vec<String> {
    problem["invalid-parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["property"].as_str().unwrap().to_owned())
        .collect()
}

/// The JSON body of a 200 answer.
pub async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "{}", response.url());
    response.json().await.unwrap()
}

/// Where a redirect points (empty if it is none).
pub fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The `<input type="hidden">` fields of a page, names and (unescaped `+`) values.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let name = rest.split('"').next().unwrap().to_owned();
            let value = rest
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .replace("&#x2b;", "+")
                .replace("&#43;", "+");
            (name, value)
        })
        .collect()
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form_body(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    form_body(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>())
}

pub async fn post_form(c: &reqwest::Client, url: &str, body: String) -> reqwest::Response {
    c.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap()
}

/// The `ena_session` cookie a response sets (checked HttpOnly and SameSite=Lax).
pub fn session_cookie(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("ena_session="))
        .expect("a session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    set.split(';').next().unwrap().to_owned()
}
