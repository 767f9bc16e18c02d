//! Faults: member nodes killed with SIGKILL mid-stream and mid-transfer lose and duplicate nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_either_node_mid_stream_loses_and_duplicates_nothing_on_each_database() {
    // 2 000 messages a round: enough for each kill to land mid-stream, which the test asserts
    // (0 < delivered < N at the moment of the kill) instead of hoping for it.
    const N: usize = 2_000;
    let delivered = |store: ena_store::Store| async move {
        ena_messaging::repo::counts(&store).await.unwrap().iter().find(|(s, _)| s == "delivered").map_or(0, |(_, n)| *n)
            as usize
    };
    // Wait (at most a minute, then fail) until at least `from` messages are delivered; returns the count.
    let wait_for = |store: ena_store::Store, from: usize| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let n = delivered(store.clone()).await;
            if n >= from {
                return n;
            }
            assert!(std::time::Instant::now() < deadline, "only {n} of {from} delivered after a minute");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (mut skatt, mut kommun) =
            tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object", "required": ["child"]}))
                .await;

        // The recipient is killed (-9) while the stream is being delivered, and restarted.
        let streaming = stream_messages(skatt.api.clone(), skatt.token.clone(), N, 16);
        let killing = async {
            let at_kill = wait_for(skatt.store().await, N / 10).await;
            kommun.kill_and_restart().await;
            at_kill
        };
        let (ids, at_kill) = tokio::join!(streaming, killing);
        assert!(at_kill < N, "{label}: the recipient was killed mid-stream ({at_kill} of {N} delivered)");
        assert_eq!(ids.len(), N, "{label}: the sender acknowledged every submission");
        all_delivered_exactly_once(&format!("{label}, recipient killed"), &skatt, &kommun, &ids).await;

        // The sender is killed (-9) mid-stream: what it acknowledged before is delivered after its restart.
        let streaming = stream_messages(skatt.api.clone(), skatt.token.clone(), N, 16);
        let killing = async {
            let at_kill = wait_for(skatt.store().await, N + N / 10).await - N;
            skatt.kill_and_restart().await;
            at_kill
        };
        let (mut second, at_kill) = tokio::join!(streaming, killing);
        assert!(at_kill < N, "{label}: the sender was killed mid-stream ({at_kill} of {N} delivered)");
        // Submissions refused while it was down are sent again, as a system would.
        let rest = stream_messages(skatt.api.clone(), skatt.token.clone(), N - second.len(), 16).await;
        second.extend(rest);
        let mut all = ids.clone();
        all.extend(second);
        all_delivered_exactly_once(&format!("{label}, sender killed"), &skatt, &kommun, &all).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_survives_the_recipient_killed_mid_transfer_on_each_database() {
    use sha2::Digest;
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, mut kommun) =
            tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object", "required": ["child"]}))
                .await;
        let c = reqwest::Client::new();
        // 64 MiB of pseudo-random bytes: long enough in a debug build to catch the transfer under way.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let file: Vec<u8> = (0..64 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let up: Value = c
            .post(format!("{}/messages/v1/attachments", skatt.api))
            .bearer_auth(&skatt.token)
            .header("content-type", "application/octet-stream")
            .body(file.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
            "payload": {"child": "201401012383"}, "attachments": [{"id": up["id"], "name": "stor.bin"}]});
        let r = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

        // The recipient is killed (-9) while the encrypted file is arriving, and restarted.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while transfers_in_progress(&kommun) == 0 {
            let status = json_of(skatt.get(&c, &format!("/messages/v1/outbox/{id}")).send().await.unwrap()).await;
            assert_ne!(status["status"], "delivered", "{label}: the transfer ended before it was caught under way");
            assert!(std::time::Instant::now() < deadline, "{label}: no transfer under way: {status}");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        kommun.kill_and_restart().await;

        // The sender tries again; the message arrives once, with the whole file.
        let done = wait_status(&skatt, &c, &id, "delivered").await;
        assert!(done["attempts"].as_i64().unwrap() >= 2, "{label}: {done}");
        let got = kommun.get(&c, &format!("/messages/v1/inbox/{id}/attachments/0")).send().await.unwrap();
        assert_eq!(got.status(), 200, "{label}");
        let bytes = got.bytes().await.unwrap();
        assert_eq!(bytes.len(), file.len(), "{label}");
        assert_eq!(sha2::Sha256::digest(&bytes), sha2::Sha256::digest(&file), "{label}: the same file");
        let inbox = json_of(kommun.get(&c, "/messages/v1/inbox?all=true").send().await.unwrap()).await;
        assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{label}: received once");
    }
}
