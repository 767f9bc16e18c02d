//! Indexering over HTTP on both databases, as its users use it: a holder's member system registers a
//! batch (each item taken or refused by name, the number never echoed), the operator lets another member
//! system learn of one category, that system finds by its node certificate and sees only that category;
//! the holder itself, not allowed, is refused alike whether anything is held or not; the person sees who
//! holds what about them and who read it (API and Mina sidor; restricted events hidden until revealed);
//! deletion; bad input.

use super::*;

const TOLVAN: &str = "191212121212";
const INCOME: &str = "se.exempel.inkomst";
const VEHICLES: &str = "se.exempel.fordon";

#[tokio::test]
async fn holders_register_and_only_allowed_finders_learn_what_is_held() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let fed = server.two_members().await;
        let token = fed.token_a().await;
        let a = |path: &str, body: Value| {
            fed.tls_a.post(format!("https://{}{path}", fed.node)).bearer_auth(&token).json(&body).send()
        };
        // Member B by its node certificate alone.
        let b = |body: Value| fed.tls_b.post(format!("https://{}/index/v1/searches", fed.node)).json(&body).send();

        let batch = json!({"items": [
            {"objectType": "person", "objectId": TOLVAN, "category": INCOME, "address": "212000-0142:inkomst",
             "updatedAt": "2026-11-30T12:00:00Z", "source": "inkomstregistret"},
            {"objectType": "person", "objectId": "191212121213", "category": INCOME, "address": "212000-0142:inkomst"},
            {"objectType": "person", "objectId": TOLVAN, "category": VEHICLES, "address": "212000-0142:fordon"},
            {"objectType": "vehicle", "objectId": "abc 123", "category": VEHICLES, "address": "212000-0142:fordon"}
        ]});
        let r = a("/index/v1/engagement-batches", batch).await.unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let text = r.text().await.unwrap();
        assert!(!text.contains("191212121213"), "{label}: a refusal does not echo the number: {text}");
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((out["accepted"].as_u64(), out["refused"].as_u64()), (Some(2), Some(2)), "{label}: {out}");
        assert_eq!(out["items"][1]["errors"][0]["property"], "items/1/objectId", "{label}: {out}");
        assert_eq!(out["items"][3]["errors"][0]["property"], "items/3/objectId", "{label}: {out}");

        // Nothing may be found before a policy says so.
        let find = json!({"objectType": "person", "objectId": TOLVAN});
        assert_eq!(json_of(b(find.clone()).await.unwrap()).await["items"], json!([]), "{label}");

        // The operator lets member B learn of income data.
        let put = server
            .client
            .put(server.url("/access/v1/policies/b-finds-income"))
            .bearer_auth(server.operator_token())
            .json(&json!({"resource": format!("category:{INCOME}"), "description": "B learns who holds income data",
                "text": format!("permit (principal == Ena::Member::\"{}\", action == Ena::Action::\"find\", resource == Ena::Category::\"{INCOME}\");", fed.b.id)}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200, "{label}: {}", put.text().await.unwrap());
        let found = json_of(b(find.clone()).await.unwrap()).await;
        let items = found["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{label}: only the income engagement: {found}");
        assert_eq!(
            (items[0]["category"].as_str(), items[0]["holder"].as_str()),
            (Some(INCOME), Some("162120000142")),
            "{label}"
        );
        assert_eq!(items[0]["source"], "inkomstregistret", "{label}");

        // Member A, not allowed, is refused alike whether anything is held or not.
        let held = check_problem(
            a("/index/v1/searches", json!({"objectType": "person", "objectId": TOLVAN, "category": INCOME}))
                .await
                .unwrap(),
            403,
            "permission-denied",
        )
        .await;
        let not_held = check_problem(
            a("/index/v1/searches", json!({"objectType": "person", "objectId": "199001012385", "category": INCOME}))
                .await
                .unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert_eq!(held["detail"], not_held["detail"], "{label}");

        // Bad input, named.
        let p = check_problem(
            b(json!({"objectType": "person", "objectId": "12"})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(p["invalid-parameters"][0]["property"], "objectId", "{label}: {p}");
        let p = check_problem(b(json!({"objectType": "planet", "objectId": "x"})).await.unwrap(), 400, "invalid-body")
            .await;
        assert!(p["detail"].as_str().is_some(), "{label}");
        let p = check_problem(
            a(
                "/index/v1/engagements",
                json!({"objectType": "person", "objectId": TOLVAN, "category": "Inkomst", "address": "x"}),
            )
            .await
            .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(p["invalid-parameters"][0]["property"], "category", "{label}: {p}");
        let p = check_problem(
            a("/index/v1/engagement-batches", json!({"items": []})).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(p["invalid-parameters"][0]["property"], "items", "{label}: {p}");
        // No credential: refused.
        let anonymous = server.client.post(server.url("/index/v1/searches")).json(&find).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{label}");

        // Tolvan sees who holds what about him — every category, his own data — in the API and in Mina sidor;
        // Anna sees nothing of his.
        let tolvan = server.person(TOLVAN, 3).await;
        let mine = tolvan.browser.get(server.url("/index/v1/my/engagements")).header("cookie", &tolvan.cookie).send();
        let mine = json_of(mine.await.unwrap()).await;
        let categories: Vec<&str> =
            mine["items"].as_array().unwrap().iter().map(|e| e["category"].as_str().unwrap()).collect();
        assert_eq!(categories, [VEHICLES, INCOME], "{label}: {mine}");
        let page = tolvan.browser.get(server.url("/mina-sidor/uppgifter")).header("cookie", &tolvan.cookie).send();
        let page = page.await.unwrap().text().await.unwrap();
        assert!(page.contains(INCOME) && page.contains("212000-0142:inkomst"), "{label}: {page}");
        // Who read my data: B's find of Tolvan is there, by B's organisation; a restricted event shows only
        // once its reveal date has passed.
        for (action, reveal) in
            [("police.read-hidden", "2099-01-01T00:00:00Z"), ("police.read-revealed", "2026-01-01T00:00:00Z")]
        {
            let mut e = crate::audit_event(action, Some(TOLVAN));
            (e["restricted"], e["revealAt"]) = (json!(true), json!(reveal));
            let r =
                server.client.post(server.url("/audit/v1/events")).bearer_auth(server.operator_token()).json(&e).send();
            assert_eq!(r.await.unwrap().status(), 201, "{label}");
        }
        let events =
            tolvan.browser.get(server.url("/audit/v1/my/events?limit=100")).header("cookie", &tolvan.cookie).send();
        let events = json_of(events.await.unwrap()).await;
        let list = events["items"].as_array().unwrap();
        assert!(
            list.iter().any(|e| e["action"] == "index.find" && e["who"] == "Exempelkommunen (212000-0142)"),
            "{label}: {events}"
        );
        assert!(list.iter().any(|e| e["action"] == "police.read-revealed"), "{label}: {events}");
        assert!(!list.iter().any(|e| e["action"] == "police.read-hidden"), "{label}: hidden until revealed: {events}");
        assert!(!events.to_string().contains(TOLVAN), "{label}: his own number is not echoed");
        let page = tolvan.browser.get(server.url("/mina-sidor/atkomst")).header("cookie", &tolvan.cookie).send();
        let page = page.await.unwrap().text().await.unwrap();
        assert!(page.contains("index.find") && !page.contains("police.read-hidden"), "{label}");

        let anna = server.person("199001012385", 3).await;
        let hers = anna.browser.get(server.url("/index/v1/my/engagements")).header("cookie", &anna.cookie).send();
        assert_eq!(json_of(hers.await.unwrap()).await["items"], json!([]), "{label}");
        let weak = server.person("194702289879", 2).await;
        let r = weak.browser.get(server.url("/index/v1/my/engagements")).header("cookie", &weak.cookie).send();
        assert_eq!(r.await.unwrap().status(), 403, "{label}: LoA 3 is needed");

        // The holder removes the income engagement: B finds nothing; removing it again is 404.
        let key = json!({"objectType": "person", "objectId": TOLVAN, "category": INCOME});
        assert_eq!(a("/index/v1/engagement-deletions", key.clone()).await.unwrap().status(), 204, "{label}");
        check_problem(a("/index/v1/engagement-deletions", key).await.unwrap(), 404, "resource-not-found").await;
        assert_eq!(json_of(b(find).await.unwrap()).await["items"], json!([]), "{label}");

        // Subscriptions: B follows income data and reads A's next registration with its object; A, not
        // allowed, is refused; once the operator removes B's policy, B's feed stops.
        let b_req = |m: reqwest::Method, path: &str| fed.tls_b.request(m, format!("https://{}{path}", fed.node));
        check_problem(
            a("/index/v1/subscriptions", json!({"category": INCOME})).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        let r = b_req(reqwest::Method::POST, "/index/v1/subscriptions").json(&json!({"category": INCOME})).send();
        let subscribed = r.await.unwrap();
        assert_eq!(subscribed.status(), 201, "{label}");
        let sub_id = subscribed.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let again = json!({"items": [{"objectType": "person", "objectId": TOLVAN, "category": INCOME, "address": "212000-0142:inkomst"}]});
        assert_eq!(a("/index/v1/engagement-batches", again).await.unwrap().status(), 200, "{label}");
        let feed = b_req(reqwest::Method::GET, &format!("/index/v1/subscriptions/{sub_id}/changes")).send();
        let feed = json_of(feed.await.unwrap()).await;
        assert_eq!(feed["items"][0]["objectId"], TOLVAN, "{label}: {feed}");
        assert_eq!(feed["items"][0]["kind"], "registered", "{label}: {feed}");
        let p = check_problem(
            b_req(reqwest::Method::GET, &format!("/index/v1/subscriptions/{sub_id}/changes?after=-1"))
                .send()
                .await
                .unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["after"], "{label}");
        let gone = server
            .client
            .delete(server.url("/access/v1/policies/b-finds-income"))
            .bearer_auth(server.operator_token())
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 204, "{label}");
        check_problem(
            b_req(reqwest::Method::GET, &format!("/index/v1/subscriptions/{sub_id}/changes")).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
    }
}
