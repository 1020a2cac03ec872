//! Time source, injectable so tests can pin "now".

/// Wall-clock time in epoch milliseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_millis(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
