//! The leafnode listener. The leafnode protocol (interest propagation with LS+/LS-,
//! LMSG, account binding) is not implemented yet; a configured listener accepts each
//! connection, answers it with an `-ERR` saying so, and closes it, so that a remote
//! leafnode server logs a clear reason and the operator sees a warning here.

use std::sync::Arc;
use std::time::Duration;

use crate::{debug, error, warn};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::server::Server;

/// What a connecting leafnode is told.
pub const REFUSAL: &str = "Leafnode connections are not supported by natrium-server yet";

pub async fn refuse_loop(server: Arc<Server>, listener: TcpListener) {
    let mut shutdown = server.shutdown_signal();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((mut stream, addr)) => {
                    warn!("{addr} - lid:0 - Leafnode connection refused: {REFUSAL}");
                    tokio::spawn(async move {
                        let line = format!("-ERR '{REFUSAL}'\r\n");
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            let _ = stream.write_all(line.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        })
                        .await;
                    });
                }
                Err(e) => {
                    error!("Temporary leafnode accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    debug!("Leafnode accept loop exiting..");
}
