//! Messages to the Pulumi CLI through `Engine.Log` (Pulumi `engine.proto`):
//! diagnostics attributed to a resource URN, and ephemeral status messages
//! for progress. Nothing here ever includes a secret: callers pass messages
//! built from public values only.

use imageautomation_proto::pulumirpc::{LogRequest, LogSeverity, engine_client::EngineClient};
use tokio::sync::OnceCell;
use tonic::transport::Channel;

/// A lazily connected `Engine` client; logging without an engine is a no-op.
#[derive(Debug, Default)]
pub struct EngineLog {
    address: std::sync::Mutex<Option<String>>,
    client: OnceCell<Option<EngineClient<Channel>>>,
}

impl EngineLog {
    /// A logger for the engine at `address` (`127.0.0.1:<port>`), if known.
    pub fn new(address: Option<String>) -> EngineLog {
        EngineLog {
            address: std::sync::Mutex::new(address),
            client: OnceCell::new(),
        }
    }

    /// Sets the address when it arrives with `Handshake` (attach mode).
    pub fn set_address(&self, address: &str) {
        if let Ok(mut a) = self.address.lock()
            && a.is_none()
            && !address.is_empty()
        {
            *a = Some(address.to_owned());
        }
    }

    async fn client(&self) -> Option<EngineClient<Channel>> {
        self.client
            .get_or_init(|| async {
                let address = self.address.lock().ok()?.clone()?;
                let endpoint = Channel::from_shared(format!("http://{address}")).ok()?;
                Some(EngineClient::new(endpoint.connect_lazy()))
            })
            .await
            .clone()
    }

    async fn log(&self, severity: LogSeverity, urn: &str, message: String, ephemeral: bool) {
        if let Some(mut client) = self.client().await {
            let request = LogRequest {
                severity: severity as i32,
                message,
                urn: urn.to_owned(),
                stream_id: 0,
                ephemeral,
            };
            // A log that cannot be delivered must not fail the operation.
            let _ = client.log(request).await;
        }
    }

    /// An info diagnostic on the resource `urn`.
    pub async fn info(&self, urn: &str, message: String) {
        self.log(LogSeverity::Info, urn, message, false).await;
    }

    /// A warning diagnostic on the resource `urn`.
    pub async fn warning(&self, urn: &str, message: String) {
        self.log(LogSeverity::Warning, urn, message, false).await;
    }

    /// An ephemeral status message (progress) on the resource `urn`.
    pub async fn status(&self, urn: &str, message: String) {
        self.log(LogSeverity::Info, urn, message, true).await;
    }
}
