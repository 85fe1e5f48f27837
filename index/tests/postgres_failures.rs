//! A server whose database goes away (a cut connection): searches go on from memory, writes fail as unavailable,
//! and the server resumes by itself; a server away longer than the log keeps changes compares with the templates;
//! TLS to the database; store calls from every kind of thread.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::stores::{options, postgres_at, postgres_url};
use common::{DIM, Rng, config, template};
use faceserve_index::store::postgres::throwaway::ThrowawayPostgres;
use faceserve_index::store::postgres::{PostgresOptions, PostgresStore};
use faceserve_index::store::{FeedProgress, TemplateStore};
use faceserve_index::{GalleryEngine, GalleryError};

/// The database of `url`, reached through a proxy the test can cut.
fn through_proxy(url: &str) -> (Proxy, String) {
    let rest = url.strip_prefix("postgres://postgres@").unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(host_port.parse::<SocketAddr>().unwrap());
    let proxied = format!("postgres://postgres@{}/{database}", proxy.addr);
    (proxy, proxied)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn engine_on(options: &PostgresOptions, dir: &Path) -> GalleryEngine {
    let store = std::sync::Arc::new(PostgresStore::open(options).unwrap());
    GalleryEngine::open_with_store(config(dir), store).unwrap()
}

#[test]
fn an_unreachable_store_keeps_searches_going_and_refuses_writes() {
    let Some(url) = postgres_url() else { return };
    let (proxy, proxied) = through_proxy(&url);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = GalleryEngine::open_with_store(config(da.path()), postgres_at(&url, "a")).unwrap();
    let mut b_options = options(&proxied, "b");
    b_options.query_timeout = Duration::from_secs(2);
    let b = engine_on(&b_options, db.path());
    let mut rng = Rng::new(1);
    let known: Vec<_> = (0..20)
        .map(|_| a.add(template("", "g", rng.unit_vector(DIM))).unwrap())
        .collect();
    assert!(b.wait_for_seq(a.applied_seq().unwrap(), Duration::from_secs(10)));

    proxy.cut();
    let error = b.add(template("", "g", rng.unit_vector(DIM))).unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(error.to_string().contains("unavailable"), "{error}");
    wait_until("B to notice", || !b.feed_status().unwrap().reachable);
    let status = b.feed_status().unwrap();
    assert!(status.is_stale());
    for record in &known {
        let hits = b.search("", "g", &record.embedding, 1).unwrap();
        assert_eq!(
            (hits[0].id, &hits[0].metadata),
            (record.id, &record.metadata)
        );
    }
    assert!(b.feed_status().unwrap().answered_from_memory >= known.len() as u64);
    // Meanwhile A goes on writing.
    let during: Vec<_> = (0..10)
        .map(|_| a.add(template("", "g", rng.unit_vector(DIM))).unwrap())
        .collect();
    a.delete("", "g", known[0].id).unwrap();

    proxy.restore();
    assert!(
        b.wait_for_seq(a.applied_seq().unwrap(), Duration::from_secs(20)),
        "B resumes by itself"
    );
    wait_until("B reachable", || b.feed_status().unwrap().reachable);
    for record in &during {
        assert_eq!(
            b.search("", "g", &record.embedding, 1).unwrap()[0].id,
            record.id
        );
    }
    assert!(
        b.search("", "g", &known[0].embedding, 3)
            .unwrap()
            .iter()
            .all(|h| h.id != known[0].id)
    );
    b.add(template("", "g", rng.unit_vector(DIM))).unwrap();
    assert!(b.verify_index("", "g").unwrap().is_consistent());
}

#[test]
fn a_server_away_longer_than_the_log_compares_with_the_templates() {
    let Some(url) = postgres_url() else { return };
    let (proxy, proxied) = through_proxy(&url);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let short_lived = |url: &str, name: &str| {
        let mut o = options(url, name);
        o.replica_ttl = Duration::from_secs(1);
        o.min_log_retention = Duration::ZERO;
        o.query_timeout = Duration::from_secs(2);
        o
    };
    let a_store = std::sync::Arc::new(PostgresStore::open(&short_lived(&url, "a")).unwrap());
    let a = GalleryEngine::open_with_store(config(da.path()), a_store.clone()).unwrap();
    let b = engine_on(&short_lived(&proxied, "b"), db.path());
    let mut rng = Rng::new(2);
    let early: Vec<_> = (0..10)
        .map(|_| a.add(template("", "g", rng.unit_vector(DIM))).unwrap())
        .collect();
    assert!(b.wait_for_seq(a.applied_seq().unwrap(), Duration::from_secs(10)));

    proxy.cut();
    let late: Vec<_> = (0..30)
        .map(|_| {
            a.add(template("", "new-gallery", rng.unit_vector(DIM)))
                .unwrap()
        })
        .collect();
    a.delete("", "g", early[0].id).unwrap();
    a.delete_gallery("", "g").unwrap_or_default();
    a.add(template("", "g", rng.unit_vector(DIM))).unwrap();
    // B is no longer live after its time to live: A's report prunes everything it has applied.
    std::thread::sleep(Duration::from_millis(1500));
    let head = a.applied_seq().unwrap();
    a_store
        .feed()
        .unwrap()
        .report_progress(FeedProgress {
            applied: head,
            needed: head,
        })
        .unwrap();
    assert!(
        a_store
            .feed()
            .unwrap()
            .changes(0, head, None, 10)
            .unwrap()
            .is_none(),
        "pruned"
    );

    proxy.restore();
    assert!(b.wait_for_seq(head, Duration::from_secs(20)));
    for record in &late {
        assert_eq!(
            b.search("", "new-gallery", &record.embedding, 1).unwrap()[0].id,
            record.id
        );
    }
    assert_eq!(b.stats("", "g").unwrap().template_count, 1);
    assert!(b.search("", "g", &early[1].embedding, 1).unwrap()[0].id != early[1].id);
    assert_eq!(b.total_templates(), a.total_templates());
    assert!(b.verify_index("", "new-gallery").unwrap().is_consistent());
}

#[test]
fn another_servers_registry_change_moves_the_version() {
    let Some(url) = postgres_url() else { return };
    let (server, cli) = (postgres_at(&url, "server"), postgres_at(&url, "cli"));
    let before = server.apps().version().unwrap();
    assert!(cli.apps().create_app("door", "hash", "").unwrap());
    wait_until("the announcement", || {
        server.apps().version().unwrap() != before
    });
    assert_eq!(server.apps().active_key_hashes().unwrap().len(), 1);
}

#[test]
fn store_calls_work_from_blocking_threads_async_tasks_and_plain_threads() {
    let Some(url) = postgres_url() else { return };
    let store = postgres_at(&url, "threads");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (blocking, apps) = (store.clone(), store.apps());
    runtime.block_on(async move {
        // The engine's calls: from tokio's blocking pool, on another runtime than the store's.
        let galleries =
            tokio::task::spawn_blocking(move || blocking.read().unwrap().galleries().unwrap())
                .await
                .unwrap();
        assert!(galleries.is_empty());
        // The authentication layer's calls: from inside an async task.
        assert!(apps.list_apps().unwrap().is_empty());
        assert!(apps.create_app("a", "h", "").unwrap());
    });
    let plain = store.clone();
    std::thread::spawn(move || assert_eq!(plain.apps().list_apps().unwrap().len(), 1))
        .join()
        .unwrap();
}

#[test]
fn tls_to_the_database_with_a_verified_certificate() {
    if faceserve_index::store::postgres::throwaway::shared().is_none() {
        return;
    }
    let ca = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let server = ThrowawayPostgres::init().unwrap();
    let cert_file = server
        .put_file("server.crt", cert.pem().as_bytes())
        .unwrap();
    let key_file = server
        .put_file("server.key", key.serialize_pem().as_bytes())
        .unwrap();
    let (cert_file, key_file) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    server
        .start(&[
            ("ssl", "on"),
            ("ssl_cert_file", &cert_file),
            ("ssl_key_file", &key_file),
        ])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();

    let url = format!("{}?sslmode=require", server.url("postgres"));
    let mut trusted = options(&url, "tls");
    trusted.tls_ca_file = Some(ca_file);
    let store = PostgresStore::open(&trusted).unwrap();
    let mut tx = store.write().unwrap();
    tx.create_gallery("", "g", "m", 4, 0).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.read().unwrap().galleries().unwrap().len(), 1);

    let mut untrusted = options(&url, "tls");
    untrusted.connect_wait = Duration::ZERO;
    let refused = PostgresStore::open(&untrusted)
        .err()
        .expect("an unknown CA is refused");
    assert!(
        matches!(refused, GalleryError::Unavailable(_)),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("certificate")
            || refused.to_string().contains("TLS")
            || refused.to_string().contains("tls"),
        "{refused}"
    );
}
