//! The client over real HTTP: one program, written against `ProvingApi`,
//! runs the same against an in-process handle and a remote node; idempotent
//! submits from 50 concurrent clients; auth and setup errors.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use paas_api::ProvingApi;
use paas_api::client::{ClientError, ClientFor};
use paas_api::server::Token;
use paas_core::service::Submission;
use paas_core::store::ListQuery;
use paas_core::{CancelOutcome, FailureKind, RetryOutcome, Status, Submitted, TaskOutcome, Update};
use support::{Demo, Engine, Job, Node, Script, proof_of};

/// What a program does with a proving service, wherever it runs.
async fn exercise<S>(service: &S, demo: &Demo)
where
    S: ProvingApi<Id = Job, Backend = Engine, Output = Vec<u8>>,
{
    let mut events = service.events().await.expect("an event stream");

    let ok = Job::prove(1);
    assert_eq!(
        service.submit(ok.clone()).await.ok(),
        Some(Submitted::Accepted)
    );
    assert_eq!(
        service
            .submit(ok.clone())
            .await
            .ok()
            .map(|s| matches!(s, Submitted::Existing(_))),
        Some(true)
    );
    let urgent = Submission::new(Job::prove(2)).priority(9);
    let failing = Job::new(3, Script::Fail).on(Engine::Slow);
    let batch = service
        .submit_many(vec![
            urgent,
            Submission::new(failing.clone()),
            Submission::new(ok.clone()),
        ])
        .await
        .expect("submitted");
    assert_eq!(batch[0], Submitted::Accepted);
    assert!(matches!(batch[2], Submitted::Existing(_)));

    match service.wait(ok.clone()).await.expect("waited") {
        TaskOutcome::Completed(proof) => assert_eq!(proof, proof_of(1)),
        other => panic!("{other:?}"),
    }
    match service.wait(failing.clone()).await.expect("waited") {
        TaskOutcome::Failed(f) => {
            assert_eq!(f.kind, FailureKind::Permanent);
            assert_eq!(&*f.message, "no witness for 3");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        service.proof(ok.clone()).await.ok(),
        Some(Some(proof_of(1)))
    );
    assert_eq!(service.proof(failing.clone()).await.ok(), Some(None));
    assert_eq!(service.proof(Job::prove(404)).await.ok(), Some(None));

    let info = service
        .status(Job::prove(2))
        .await
        .expect("answers")
        .expect("known");
    assert_eq!(info.priority, 9);
    assert!(
        service
            .status(Job::prove(404))
            .await
            .expect("answers")
            .is_none()
    );
    let detail = service
        .detail(failing.clone())
        .await
        .expect("answers")
        .expect("known");
    assert_eq!(detail.failures.len(), 1);
    assert_eq!(&*detail.failures[0].error.message, "no witness for 3");
    assert!(detail.row.times.created_at > 0);

    let held = Job::new(4, Script::Hold);
    service.submit(held.clone()).await.expect("submitted");
    support_wait_proving(service, &held).await;
    assert_eq!(
        service.cancel(held.clone()).await.ok(),
        Some(CancelOutcome::Cancelling)
    );
    assert!(matches!(
        service.wait(held.clone()).await.expect("waited"),
        TaskOutcome::Cancelled
    ));
    assert_eq!(
        service.retry(ok.clone()).await.ok(),
        Some(RetryOutcome::NotRetryable(Status::Completed))
    );
    demo.release();
    assert_eq!(
        service.retry(held.clone()).await.ok(),
        Some(RetryOutcome::Requeued)
    );
    assert!(
        service
            .wait(held.clone())
            .await
            .expect("waited")
            .is_completed()
    );

    let page = service
        .list(ListQuery::new(2).status(Status::Completed))
        .await
        .expect("listed");
    assert_eq!(page.tasks.len(), 2);
    assert_eq!(page.tasks[0].id, held, "newest first");
    let rest = service
        .list(
            ListQuery::new(10)
                .status(Status::Completed)
                .after(page.next.expect("more")),
        )
        .await
        .expect("listed");
    assert_eq!(rest.tasks.iter().map(|t| t.id.n).collect::<Vec<_>>(), [1]);

    let summary = service.summary().await.expect("the counts");
    assert_eq!(summary[Engine::Fast].get(Status::Completed), 3);
    assert_eq!(summary[Engine::Slow].get(Status::Failed), 1);

    // The stream opened first saw every change of `ok`, in order.
    let mut ok_changes = Vec::new();
    let mut last_seq = 0;
    while ok_changes.last() != Some(&Status::Completed) {
        let update = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event")
            .expect("open")
            .expect("readable");
        if let Update::Change(event) = update {
            assert!(event.seq > last_seq);
            last_seq = event.seq;
            if event.id == ok {
                ok_changes.push(event.info.status);
            }
        }
    }
    assert_eq!(
        ok_changes,
        [Status::Pending, Status::Proving, Status::Completed]
    );
}

async fn support_wait_proving<S: ProvingApi<Id = Job>>(service: &S, job: &Job) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while service
        .status(job.clone())
        .await
        .ok()
        .flatten()
        .map(|i| i.status)
        != Some(Status::Proving)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{job:?} never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_same_program_runs_on_a_handle_and_over_http() {
    let local = Node::start().await;
    exercise(&local.handle, &local.demo).await;
    let remote = Node::start().await;
    let client = ClientFor::<Demo>::new(&remote.base).expect("a client");
    exercise(&client, &remote.demo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_submitting_the_same_tasks_create_each_once() {
    let node = Node::start().await;
    let ids: Vec<Job> = (0..20).map(Job::prove).collect();
    let mut clients = Vec::new();
    for _ in 0..50 {
        let client = ClientFor::<Demo>::new(&node.base).expect("a client");
        let ids = ids.clone();
        clients.push(tokio::spawn(async move {
            let mut accepted = 0;
            // Half submit one at a time, half the whole batch.
            for id in &ids {
                if client.submit(id.clone()).await.expect("submitted") == Submitted::Accepted {
                    accepted += 1;
                }
            }
            let again = client.submit_many(ids).await.expect("submitted");
            accepted += again.iter().filter(|s| **s == Submitted::Accepted).count();
            accepted
        }));
    }
    let mut accepted = 0;
    for c in clients {
        accepted += c.await.expect("joined");
    }
    assert_eq!(accepted, ids.len(), "each id accepted exactly once");
    node.handle.wait_all(ids.clone()).await.expect("finished");
    let summary = node.handle.summary().borrow().clone();
    assert_eq!(summary[Engine::Fast].total(), 20);
}

#[tokio::test]
async fn tokens_and_setup_errors_are_typed() {
    let token = "full-token-0123456789abcdef";
    let node = Node::with(|s| s, |a| a.token(Token::new(token).expect("a token"))).await;
    let anonymous = ClientFor::<Demo>::new(&node.base).expect("a client");
    let refused = anonymous.submit(Job::prove(1)).await.err();
    assert!(
        matches!(&refused, Some(ClientError::Api { status: 401, .. })),
        "{refused:?}"
    );
    assert_eq!(
        refused.and_then(|e| e.code()),
        Some(paas_api::ErrorCode::Unauthorized)
    );
    let client = anonymous.token(token).expect("a token");
    assert_eq!(
        client.submit(Job::prove(1)).await.ok(),
        Some(Submitted::Accepted)
    );
    assert!(
        client
            .wait(Job::prove(1))
            .await
            .expect("waited")
            .is_completed()
    );
    let unknown = client.wait(Job::prove(2)).await.err();
    assert_eq!(
        unknown.and_then(|e| e.code()),
        Some(paas_api::ErrorCode::UnknownTask)
    );

    assert!(matches!(
        ClientFor::<Demo>::new("https://node.example"),
        Err(ClientError::Setup(_))
    ));
    assert!(matches!(
        ClientFor::<Demo>::new("http://x").and_then(|c| c.token("a\nb")),
        Err(ClientError::Setup(_))
    ));
    let nobody = ClientFor::<Demo>::new("http://127.0.0.1:9").expect("a client");
    let error = nobody.summary().await.err();
    assert!(matches!(error, Some(ClientError::Http(_))), "{error:?}");
    assert!(error.is_some_and(|e| e.is_retryable()));
}
