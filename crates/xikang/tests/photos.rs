//! Inspection photos as files (明察暗访, docs/citizens.md), through the real server: a photo
//! is judged by its bytes (not its name or content type), limited in size, stored once by
//! its SHA-256 in the data directory, named by the inspection in the log, and served only
//! to staff who may see the inspected venue.

mod common;

use common::{PNG, spawn_app};
use serde_json::json;
use xikang_domain::event::EventBody;

#[tokio::test]
async fn a_photo_is_checked_by_content_stored_by_digest_and_shown_only_to_the_venues_staff() {
    let app = spawn_app().await;
    let d = app.districts();
    let (a, b) = (d[0].clone(), d[1].clone());
    let inspector = app.role_token(&format!("gw-{a}"), "admin", &a).await;
    let other = app.role_token(&format!("admin-{b}"), "admin", &b).await;
    let venue = app
        .state
        .projection
        .venues
        .list
        .iter()
        .find(|v| v.area.district().to_string() == a)
        .unwrap()
        .id
        .to_string();

    // Not an image, whatever it claims: refused, nothing stored.
    let html = b"<html><script>alert(1)</script></html>";
    let (s, v) = app.upload_photo(&inspector, "image/png", html).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unsupported_photo")),
        "{v}"
    );
    let mut cut = PNG.to_vec();
    cut.truncate(PNG.len() - 12);
    let (s, _) = app.upload_photo(&inspector, "image/png", &cut).await;
    assert_eq!(s, 422, "a PNG without its end");
    let big = [
        PNG,
        &vec![0u8; xikang_server::board::photos::MAX_PHOTO_BYTES],
    ]
    .concat();
    let (s, _) = app.upload_photo(&inspector, "image/png", &big).await;
    assert_eq!(s, 413);
    let photos_dir = app.dir.path().join("photos");
    assert!(!photos_dir.exists() || std::fs::read_dir(&photos_dir).unwrap().next().is_none());
    // Residents and venue devices upload nothing.
    let resident = app
        .token(json!({"name": "r", "role": "resident", "area": a, "person": format!("P{}", app.residents_of(&a)[0])}))
        .await;
    let (s, _) = app.upload_photo(&resident, "image/png", PNG).await;
    assert_eq!(s, 403);

    // A PNG sent as application/octet-stream is a PNG: stored under its digest, once.
    let (s, up) = app
        .upload_photo(&inspector, "application/octet-stream", PNG)
        .await;
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["media_type"], "image/png");
    let sha = up["photo"].as_str().unwrap().to_owned();
    let (_, again) = app.upload_photo(&inspector, "image/png", PNG).await;
    assert_eq!(again["photo"], json!(sha));
    let stored = photos_dir.join(&sha[..2]).join(&sha);
    assert_eq!(std::fs::read(&stored).unwrap(), PNG);

    // An inspection names its photos; an unknown photo refuses the inspection.
    let (s, v) = app
        .post(
            &inspector,
            "/api/v1/inspections",
            json!({"venue": venue, "kind": "unannounced", "findings": "未查验", "passed": false,
                   "rectify_by": xikang_server::now().plus(86_400).to_rfc3339(), "photos": ["0".repeat(64)]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unknown_photo")),
        "{v}"
    );
    let before = app.head();
    let (s, ins) = app
        .post(
            &inspector,
            "/api/v1/inspections",
            json!({"venue": venue, "kind": "unannounced", "findings": "未查验", "passed": false,
                   "rectify_by": xikang_server::now().plus(86_400).to_rfc3339(), "photos": [sha]}),
        )
        .await;
    assert_eq!(s, 201, "{ins}");
    assert_eq!(ins["photos"], json!([sha]));
    let logged = app.events_after(before);
    assert!(
        matches!(&logged[..], [EventBody::InspectionRecorded { photos, .. }] if *photos == vec![sha.clone()]),
        "{logged:?}"
    );

    // Served to the venue's staff, as what its bytes are; not to another district's.
    let path = format!(
        "/api/v1/inspections/{}/photos/{sha}",
        ins["id"].as_str().unwrap()
    );
    let r = app
        .conn()
        .await
        .request("GET", &path, Some(&inspector), None, b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, PNG);
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    let (s, _) = app.get(&other, &path).await;
    assert_eq!(s, 403, "another district's admin");
    let (s, _) = app
        .get(
            &inspector,
            &format!(
                "/api/v1/inspections/{}/photos/{}",
                ins["id"].as_str().unwrap(),
                "1".repeat(64)
            ),
        )
        .await;
    assert_eq!(s, 404, "a photo the inspection does not name");
}
