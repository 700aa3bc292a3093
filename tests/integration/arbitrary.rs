//! The seed's other example, `ArbitraryDataHandler`. (The blog itself, in every
//! language, is in `conformance`.)

use piston_tests::{ServerBuilder, json};

#[tokio::test]
async fn arbitrary_data_handler() {
    let server = ServerBuilder::new().example("arbitrary").start();
    let reply = server.get("/other/jane/some/longer%20data").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"user": {"username": "jane"}, "data_length": 16})
    );
}
