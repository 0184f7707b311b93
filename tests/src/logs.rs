//! Captures every log line of a test binary, for tests that assert what reaches the logs (no
//! secret, an expected error line). The subscriber is process-wide and installed once: a
//! thread-scoped one misses events whose callsite another test thread registered first, and the
//! `log` records of the HTTP client come through the `tracing-log` bridge only to a global one.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The captured output. Cheap to clone; every clone sees everything logged so far.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything logged so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing at TRACE (all levels) for the rest of this test binary, and returns the
/// capture. Later calls return the same capture. Panics if another global subscriber was set.
pub fn capture() -> CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this test binary");
        logs
    })
    .clone()
}
