//! `threadline-fake-providers serve --listen 127.0.0.1:0`: the fake, for trying things by hand,
//! seeded with one account, one OAuth client, a primary calendar and a token to use with curl;
//! and on Dropbox's side the same account and an "App folder" app named "Threadline CRM".

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use threadline_fake_providers::dropbox::oauth::{
    ACCOUNT_INFO_READ, FILES_CONTENT_READ, FILES_CONTENT_WRITE, FILES_METADATA_READ,
    FILES_METADATA_WRITE,
};
use threadline_fake_providers::dropbox::DropboxApp;
use threadline_fake_providers::google::OAuthClient;
use threadline_fake_providers::FakeProviders;

#[derive(Parser)]
#[command(
    version,
    about = "Local fakes of Google (OAuth, Calendar v3, People v1, Drive v3) and Dropbox (OAuth, \
             API v2), for tests and by hand"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve until Ctrl-C.
    Serve {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8790")]
        listen: SocketAddr,
        /// The seeded Google account, also the seeded Dropbox account.
        #[arg(long, default_value = "me@example.com")]
        email: String,
        /// Where the seeded OAuth client may send the browser back (the Threadline server's
        /// callback).
        #[arg(long, default_value = "http://127.0.0.1:8787/oauth/google/callback")]
        redirect_uri: String,
        /// A Google Workspace domain (repeatable): its accounts' ID tokens carry `hd`, which
        /// makes Google the authority for their addresses.
        #[arg(long)]
        workspace_domain: Vec<String>,
        /// Where the seeded Dropbox app may send the browser back.
        #[arg(long, default_value = "http://127.0.0.1:8787/oauth/dropbox/callback")]
        dropbox_redirect_uri: String,
        /// A further calendar of the account, by its name (repeat for more): printed as
        /// `calendar <id> <name>`.
        #[arg(long = "calendar")]
        calendars: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Command::Serve {
        listen,
        email,
        redirect_uri,
        dropbox_redirect_uri,
        calendars,
        workspace_domain,
    } = Cli::parse().command;
    let fake = FakeProviders::start_on(listen).await?;
    let google = fake.google();
    google.add_user(&email);
    for domain in &workspace_domain {
        google.add_workspace_domain(domain);
    }
    // Sign in with Google comes back beside the sign-in page, on the same server.
    let sign_in_redirect_uri = url::Url::parse(&redirect_uri)
        .and_then(|u| u.join("/sign-in/google/callback"))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| redirect_uri.clone());
    let client = OAuthClient {
        client_id: "fake-client.apps.googleusercontent.com".into(),
        client_secret: "fake-secret".into(),
        redirect_uris: vec![redirect_uri, sign_in_redirect_uri],
    };
    google.add_client(client.clone());
    let calendar = google.primary_calendar(&email, "Europe/Brussels");
    let tokens = google.issue_tokens(
        &client.client_id,
        &email,
        &["calendar", "contacts", "drive"],
    );
    let base = fake.base_url();
    println!("listening on {base}");
    println!("account {email}, primary calendar {calendar}");
    for name in &calendars {
        let id = google.add_calendar(&email, name, "Europe/Brussels");
        println!("calendar {id} {name}");
    }
    println!(
        "OAuth client {} / {} (redirect URI {})",
        client.client_id, client.client_secret, client.redirect_uris[0]
    );
    // A throwaway token of a fake server, printed so the fake can be tried with curl.
    println!(
        "try: curl -H 'Authorization: Bearer {}' {base}/calendar/v3/calendars/primary/events",
        tokens.access_token
    );
    println!(
        "     curl -H 'Authorization: Bearer {}' '{base}/v1/people/me/connections?personFields=names,emailAddresses'",
        tokens.access_token
    );
    println!(
        "     curl -H 'Authorization: Bearer {}' '{base}/drive/v3/files?fields=files(id,name,parents,trashed)'",
        tokens.access_token
    );
    let dropbox = fake.dropbox();
    dropbox.add_account(&email);
    let app = DropboxApp {
        app_key: "fakedropboxappkey".into(),
        app_secret: "fake-dropbox-secret".into(),
        name: "Threadline CRM".into(),
        redirect_uris: vec![dropbox_redirect_uri],
        scopes: [
            ACCOUNT_INFO_READ,
            FILES_METADATA_READ,
            FILES_METADATA_WRITE,
            FILES_CONTENT_READ,
            FILES_CONTENT_WRITE,
        ]
        .map(String::from)
        .to_vec(),
    };
    dropbox.add_app(app.clone());
    let dropbox_tokens = dropbox.issue_tokens(&app.app_key, &email);
    println!(
        "Dropbox account {email}, app \"{}\" {} / {} (redirect URI {})",
        app.name, app.app_key, app.app_secret, app.redirect_uris[0]
    );
    println!(
        "     curl -X POST -H 'Authorization: Bearer {}' {base}/2/users/get_current_account",
        dropbox_tokens.access_token
    );
    println!(
        "     curl -X POST -H 'Authorization: Bearer {}' -H 'content-type: application/json' -d '{{\"path\": \"\", \"recursive\": true}}' {base}/2/files/list_folder",
        dropbox_tokens.access_token
    );
    tokio::signal::ctrl_c().await?;
    fake.stop();
    Ok(())
}
