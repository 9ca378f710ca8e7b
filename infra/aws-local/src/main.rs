//! `handoff-aws-local [PREFIX]`: creates every resource the five functions use (table, queues
//! with dead-letter queues, schedule group) where `AWS_ENDPOINT_URL` points (moto server for local
//! runs), and prints the environment the functions read, one `NAME=value` per line.

use handoff::adapters::aws::config::loader;
use handoff::adapters::aws::provision::{create_all, Names};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let prefix = std::env::args().nth(1).unwrap_or_else(|| "handoff-local".to_string());
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        eprintln!("error: AWS_ENDPOINT_URL is not set; this tool is meant for an emulator (start one with `eval \"$(bash infra/moto.sh)\"`)");
        return ExitCode::from(2);
    }
    let sdk = loader().load().await;
    match create_all(&sdk, &Names { prefix }).await {
        Ok(p) => {
            for (k, v) in p.env() {
                println!("{k}={v}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: could not create the resources: {e}");
            ExitCode::FAILURE
        }
    }
}
