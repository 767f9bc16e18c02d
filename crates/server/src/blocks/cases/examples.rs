//! Examples of this block's OpenAPI operations (REST API profile DOK.15), written once per shape.

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn case_example() -> Value {
    json!({
        "id": "0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a01",
        "party": {"kind": "person", "id": "191212121212"},
        "organisation": "162120000142",
        "service": "kommun/mina-arenden",
        "status": "in-progress",
        "extendedStatus": "Under handläggning",
        "title": {"sv": "Ansökan om bygglov", "en": "Building permit application"},
        "summary": {"sv": "Vi har tagit emot din ansökan och handlägger den."},
        "additionalInfo": {},
        "noticeTitle": {"sv": "Nytt i ditt ärende hos Exempelkommunen"},
        "externalReference": "BN 2026/4711",
        "process": "bygglov-2026-4711",
        "lifeEvent": "bygga-hus",
        "visibleFrom": null,
        "dueAt": null,
        "expiresAt": null,
        "expectedDecision": {"at": "2027-02-15T00:00:00Z", "reason": "Handläggningstiden är normalt tio veckor."},
        "overdue": false,
        "decidedAt": null,
        "guiActions": [{"action": "open", "priority": "primary", "title": {"sv": "Öppna ärendet"}, "url": "https://e-tjanst.exempel.se/arenden/4711"}],
        "apiActions": [],
        "revision": 3,
        "createdAt": "2026-12-01T09:00:00Z",
        "contentUpdatedAt": "2026-12-03T14:20:00Z"
    })
}

fn transmission_example() -> Value {
    json!({
        "id": "0193a5b2-9a00-7e11-8c42-5d6e7f809a12",
        "kind": "decision",
        "relatedTransmissionId": null,
        "messageId": "0193a5b2-8f00-7aa1-b3c4-112233445566",
        "title": {"sv": "Beslut om bygglov"},
        "summary": {"sv": "Bygglov beviljas."},
        "attachments": [{"name": "beslut.pdf", "url": "https://e-tjanst.exempel.se/arenden/4711/beslut.pdf", "mediaType": "application/pdf"}],
        "createdAt": "2026-12-03T14:20:00Z"
    })
}

fn history_example() -> Value {
    json!({
        "transmissions": [transmission_example()],
        "activities": [
            {"kind": "case-created", "description": "The case was created.", "at": "2026-12-01T09:00:00Z"},
            {"kind": "decision-date-moved", "description": "The expected decision date was moved.", "at": "2026-12-02T10:00:00Z"}
        ],
        "seen": [{"person": "19121212-****", "onBehalfOf": null, "current": true, "at": "2026-12-03T15:00:00Z"}],
        "decisionDates": [
            {"at": "2027-01-31T00:00:00Z", "reason": "Handläggningstiden är normalt åtta veckor.", "setAt": "2026-12-01T09:00:00Z"},
            {"at": "2027-02-15T00:00:00Z", "reason": "Vi väntar på ett yttrande från grannarna.", "setAt": "2026-12-02T10:00:00Z"}
        ]
    })
}

fn listed_example() -> Value {
    let mut c = case_example();
    c["seen"] = json!(false);
    c["labels"] = json!(["bygget"]);
    c
}

fn subscription_example() -> Value {
    json!({
        "id": "0193a5b3-1100-7c22-9d33-445566778899",
        "party": {"kind": "person", "id": "191212121212"},
        "types": ["se.ena.cases.case.created.v1", "se.ena.cases.transmission.created.v1"],
        "delivery": "webhook",
        "webhook": "https://ekonomi.exempel.se/ena/arenden",
        "createdAt": "2026-12-05T08:00:00Z"
    })
}

fn response(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "casesApiInfo" => serde_json::to_value(apis::CASES_API.info()).ok()?,
        "createCase" | "getCase" | "updateCase" => case_example(),
        "listOwnCases" => json!({"items": [case_example()], "page": 1, "limit": 20, "hasMore": false}),
        "getCaseHistory" => history_example(),
        "addTransmission" | "getTransmission" => transmission_example(),
        "listMyCases" => json!({"items": [listed_example()], "page": 1, "limit": 20, "hasMore": true,
            "nextCursor": "MTc2NDc3MTYwMC4wMTkzYTViMi03YzFlLTdkM2EtOWYxMC0yYjVjOGU0ZDZhMDE"}),
        "getMyCase" => json!({"case": case_example(), "history": history_example()}),
        "changeMyLabels" => json!({"changed": 2}),
        "createCaseSubscription" | "getCaseSubscription" => subscription_example(),
        "caseSubscriptionEvents" => json!(
            "id: 42\ndata: {\"specversion\":\"1.0\",\"id\":\"0193a5b3-2200-7d44-8e55-66778899aabb\",\"source\":\"https://ena.exempel.se/cases/v1\",\"type\":\"se.ena.cases.transmission.created.v1\",\"subject\":\"0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a01\",\"time\":\"2026-12-05T08:30:00Z\",\"datacontenttype\":\"application/json\",\"data\":{\"caseId\":\"0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a01\",\"kind\":\"decision\",\"status\":\"completed\",\"revision\":4}}\n\n"
        ),
        "listCaseSubscriptions" => json!({"items": [subscription_example()], "page": 1, "limit": 20, "hasMore": false}),
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "createCase" => json!({
            "party": {"kind": "person", "id": "191212121212"},
            "service": "kommun/mina-arenden",
            "status": "in-progress",
            "title": {"sv": "Ansökan om bygglov", "en": "Building permit application"},
            "summary": {"sv": "Vi har tagit emot din ansökan och handlägger den."},
            "noticeTitle": {"sv": "Nytt i ditt ärende hos Exempelkommunen"},
            "externalReference": "BN 2026/4711",
            "lifeEvent": "bygga-hus",
            "idempotencyKey": "bn-2026-4711",
            "expectedDecision": {"at": "2027-01-31T00:00:00Z", "reason": "Handläggningstiden är normalt åtta veckor."},
            "guiActions": [{"action": "open", "priority": "primary", "title": {"sv": "Öppna ärendet"}, "url": "https://e-tjanst.exempel.se/arenden/4711"}]
        }),
        "updateCase" => json!({
            "extendedStatus": "Väntar på yttrande",
            "expectedDecision": {"at": "2027-02-15T00:00:00Z", "reason": "Vi väntar på ett yttrande från grannarna."}
        }),
        "addTransmission" => json!({
            "kind": "decision",
            "title": {"sv": "Beslut om bygglov"},
            "summary": {"sv": "Bygglov beviljas."},
            "attachments": [{"name": "beslut.pdf", "url": "https://e-tjanst.exempel.se/arenden/4711/beslut.pdf", "mediaType": "application/pdf"}]
        }),
        "changeMyLabels" => {
            json!({"caseIds": ["0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a01"], "label": "archive", "add": true})
        }
        "markMyCases" => json!({"caseIds": ["0193a5b2-7c1e-7d3a-9f10-2b5c8e4d6a01"], "read": false}),
        "createCaseSubscription" => json!({
            "party": {"kind": "person", "id": "191212121212"},
            "types": ["se.ena.cases.case.created.v1", "se.ena.cases.transmission.created.v1"],
            "delivery": "webhook",
            "webhook": "https://ekonomi.exempel.se/ena/arenden"
        }),
        _ => return None,
    };
    Some(value)
}
