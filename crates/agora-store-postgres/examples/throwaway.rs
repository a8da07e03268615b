//! Starts a throwaway PostgreSQL server with an empty `agora` database and
//! prints its URL, to try agora on PostgreSQL without installing a server
//! of one's own (the PostgreSQL binaries are needed: Debian's `postgresql`
//! package). The server and its data are removed when this stops (Enter,
//! Ctrl-C or Ctrl-D).
//!
//! ```sh
//! cargo run -p agora-store-postgres --example throwaway
//! ```

#![allow(clippy::print_stdout)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let server = match agora_store_postgres::throwaway::Server::start() {
        Ok(server) => server,
        Err(why) => {
            eprintln!("error: {why}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let url = match server.create_database("agora").await {
        Ok(url) => url,
        Err(why) => {
            eprintln!("error: {why}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("export AGORA_DB='{url}'");
    eprintln!(
        "a throwaway PostgreSQL is serving the database above; run agora with that AGORA_DB in another shell. Enter or Ctrl-C stops it and removes its data."
    );
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
    drop(server);
    std::process::ExitCode::SUCCESS
}
