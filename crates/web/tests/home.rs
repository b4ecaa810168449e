//! Home on a real database: the connections that need attention (the sync engine's state of
//! each of mine: needs re-authorization, degraded), said in words, with the way to
//! Integrations; nothing said of a working one or of a colleague's.

mod support;

use support::{set_up, Site};
use threadline_connections::{self as connections, Grant, Owner, Provider, Status};
use threadline_crm::Actor;
use threadline_storage::secrets::{new_key_line, Keyring, SecretString};

async fn connect(
    site: &Site,
    keys: &Keyring,
    actor: &Actor,
    provider: Provider,
    account: &str,
) -> uuid::Uuid {
    let grant = Grant {
        provider,
        account_id: account.to_string(),
        account_email: Some(format!("{account}@gmail.example")),
        scopes: vec!["openid".into()],
        access_token: SecretString::from("access".to_string()),
        refresh_token: Some(SecretString::from("refresh".to_string())),
        access_token_expires_at: None,
    };
    let mut conn = site.db.pool().acquire().await.unwrap();
    connections::upsert(&mut conn, keys, Owner::from(actor), &grant)
        .await
        .unwrap()
        .connection
        .id
}

async fn set(site: &Site, id: uuid::Uuid, status: Status, reason: &str) {
    let mut conn = site.db.pool().acquire().await.unwrap();
    connections::set_status(&mut conn, id, None, status, Some(reason))
        .await
        .unwrap();
}

/// The part of Home about connections.
fn attention(body: &str) -> &str {
    let at = body.find("id=\"attention-h\"").expect("the section");
    &body[at..at + body[at..].find("</section>").unwrap()]
}

#[tokio::test]
async fn connections_that_need_attention_are_told() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let (bob, _) = site.user(Some(ann.org_id), "bob@example.com", "Bob").await;
    let keys = Keyring::parse(&new_key_line().unwrap(), "test keys").unwrap();

    let google = connect(&site, &keys, &ann, Provider::Google, "working").await;
    let home = site.get("/", Some(&cookie)).await;
    assert!(
        attention(&home.body).contains("All connections are working."),
        "{}",
        home.body
    );
    assert!(!attention(&home.body).contains("working@gmail.example"));

    // Its account changes (one connection per provider), and its grant is refused.
    let revoked = connect(&site, &keys, &ann, Provider::Google, "revoked").await;
    assert_eq!(google, revoked);
    set(&site, revoked, Status::NeedsReauth, "invalid_grant").await;
    let failing = connect(&site, &keys, &ann, Provider::Dropbox, "failing").await;
    set(
        &site,
        failing,
        Status::Degraded,
        "<img src=x onerror=alert(1)>\"'& throttled",
    )
    .await;
    let bobs = connect(&site, &keys, &bob, Provider::Google, "bobs").await;
    set(&site, bobs, Status::NeedsReauth, "invalid_grant").await;

    let home = site.get("/", Some(&cookie)).await;
    let part = attention(&home.body);
    assert!(
        part.contains("revoked@gmail.example: needs you to connect again"),
        "{part}"
    );
    assert!(
        part.contains("failing@gmail.example: has a problem"),
        "{part}"
    );
    assert!(part.contains("&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38; throttled"));
    assert!(!home.body.contains("<img src=x"));
    assert!(part.contains("href=\"/integrations\""));
    assert!(
        !part.contains("working@") && !part.contains("bobs@"),
        "{part}"
    );
}
