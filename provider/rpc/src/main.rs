//! `pulumi-resource-imageautomation`: the Pulumi resource provider plugin.
//!
//! Launch contract (Pulumi `pkg/resource/plugin/plugin.go`): bind
//! `127.0.0.1:0`, print the port and a newline on stdout first, take the engine
//! address from the last argument (flags such as `--logtostderr`, `-v=N`,
//! `--tracing X` are ignored; no argument starts in attach mode), serve
//! `ResourceProvider`, and exit cleanly within 5 s on `Cancel`, SIGINT or
//! SIGTERM. User-facing text goes to the engine through `Engine.Log`: the
//! engine hides what the plugin writes on stdout or stderr.

// The AWS SDK's futures (ECR logins, `imageautomation-registry`) nest deeper than the
// default limit of 128 allows when their layout is computed.
#![recursion_limit = "256"]

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use imageautomation_proto::pulumirpc::resource_provider_server::ResourceProviderServer;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

mod config;
mod engine_log;
mod provider;
mod resources;
mod schema;

/// The engine's gRPC message size limit (Pulumi `rpcutil.maxRPCMessageSize`).
const MAX_MESSAGE_SIZE: usize = 400 * 1024 * 1024;

/// The engine address: the last argument that is not a flag or a flag's value.
fn engine_address(args: &[String]) -> Option<String> {
    let mut positional = None;
    let mut skip_next = false;
    for arg in args {
        if skip_next {
            skip_next = false;
        } else if arg == "--tracing" || arg == "--root" {
            skip_next = true;
        } else if !arg.starts_with('-') {
            positional = Some(arg.clone());
        }
    }
    positional
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--schema") {
        print!("{}", schema::schema_text());
        return Ok(());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind 127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{port}")?;
        out.flush()?;
    }
    let provider = provider::Provider::new(engine_address(&args));
    let cancel = provider.cancellation();
    let service = ResourceProviderServer::new(provider)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let stopping = {
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                () = cancel.cancelled() => {}
            }
            // In-flight operations see the cancellation and return promptly.
            cancel.cancel();
        }
    };
    // Small request/response messages: without TCP_NODELAY, Nagle's algorithm
    // and delayed ACKs add ~40 ms to many calls.
    let incoming = TcpListenerStream::new(listener).map(|stream| {
        if let Ok(stream) = &stream {
            let _ = stream.set_nodelay(true);
        }
        stream
    });
    let server = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, stopping);
    // Graceful shutdown waits for in-flight calls; the engine kills the process
    // group 5 s after SIGINT, so stop waiting before that.
    tokio::select! {
        result = server => result.context("gRPC server failed")?,
        () = async {
            cancel.cancelled().await;
            tokio::time::sleep(Duration::from_secs(4)).await;
        } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::engine_address;

    #[test]
    fn engine_address_is_the_last_positional_argument() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            engine_address(&args(&["127.0.0.1:1234"])).as_deref(),
            Some("127.0.0.1:1234")
        );
        assert_eq!(
            engine_address(&args(&[
                "--logtostderr",
                "-v=9",
                "--tracing",
                "x:1",
                "127.0.0.1:5"
            ]))
            .as_deref(),
            Some("127.0.0.1:5")
        );
        assert_eq!(engine_address(&args(&[])), None);
    }
}
