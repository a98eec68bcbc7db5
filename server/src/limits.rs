//! Request limits that protect the server from its callers: a token bucket per caller identity
//! (API key, or client address for anonymous reads) and a cap on requests served at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;
use crate::error::{ApiError, ApiResult};

/// The limits every request passes.
#[derive(Debug)]
pub struct RequestLimits {
    rate: RateLimiter,
    concurrency: Arc<Semaphore>,
}

impl RequestLimits {
    /// The limits of the configuration.
    pub fn new(limits: &Limits) -> Self {
        RequestLimits {
            rate: RateLimiter::new(limits.rate_per_second, limits.rate_burst),
            concurrency: Arc::new(Semaphore::new(limits.concurrent_requests)),
        }
    }

    /// A slot for one request in flight, if one is free.
    pub fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.concurrency.clone().try_acquire_owned().ok()
    }

    /// Charges one request to `who`'s bucket.
    ///
    /// # Errors
    /// 429 with the seconds until a request would be allowed.
    pub fn charge(&self, who: &str) -> ApiResult<()> {
        self.rate.charge(who).map_err(ApiError::RateLimited)
    }

    /// The rate-limit identity of an anonymous caller.
    pub fn anonymous_identity(addr: Option<SocketAddr>) -> String {
        addr.map_or_else(|| "anonymous".to_owned(), |a| format!("ip:{}", a.ip()))
    }
}

/// A token bucket per caller: `rate` requests per second sustained, `burst` at once.
#[derive(Debug)]
struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before full ones are pruned.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    fn new(rate: u64, burst: u64) -> Self {
        RateLimiter {
            rate: rate as f64,
            burst: burst as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says how many seconds until one is there.
    fn charge(&self, who: &str) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(who) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        if !buckets.contains_key(who) {
            buckets.insert(who.to_owned(), (self.burst, now));
        }
        let (tokens, at) = buckets.get_mut(who).expect("inserted above");
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket() {
        let l = RateLimiter::new(1, 3);
        assert!(l.charge("a").is_ok());
        assert!(l.charge("a").is_ok());
        assert!(l.charge("a").is_ok());
        assert_eq!(l.charge("a"), Err(1));
        assert!(l.charge("b").is_ok(), "buckets are per caller");
        assert!(RateLimiter::new(0, 1).charge("a").is_ok(), "0 disables");
    }
}
