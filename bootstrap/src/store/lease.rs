//! A lease kept in the shared config, `<id>:<instance>:<until, unix s>`, taken or renewed by
//! conditional write; a lapsed lease is anyone's. One member at a time backs up, or rolls a
//! change.

/// The backup lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: u32,
    pub instance: String,
    /// Unix seconds.
    pub until: u64,
}

impl Lease {
    pub fn parse(v: &str) -> Option<Lease> {
        let mut it = v.trim().splitn(3, ':');
        let holder = it.next()?.parse().ok()?;
        let instance = it.next()?.to_string();
        let until = it.next()?.parse().ok()?;
        Some(Lease {
            holder,
            instance,
            until,
        })
    }

    pub fn value(&self) -> String {
        format!("{}:{}:{}", self.holder, self.instance, self.until)
    }
}

/// Whether server `myid` may back up now (take or renew the lease), or who holds it.
pub fn may_back_up(current: Option<&Lease>, myid: u32, now: u64) -> Result<(), String> {
    match current {
        Some(l) if l.holder != myid && l.until > now => Err(format!(
            "server.{} holds the backup lease for {} s more",
            l.holder,
            l.until - now
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_goes_to_its_holder_or_to_anyone_once_it_lapsed() {
        let l = Lease::parse("2:i-0abc:1000").unwrap();
        assert_eq!(l.value(), "2:i-0abc:1000");
        assert_eq!(may_back_up(Some(&l), 2, 999), Ok(()));
        let e = may_back_up(Some(&l), 1, 999).unwrap_err();
        assert!(e.contains("server.2"), "{e}");
        assert_eq!(may_back_up(Some(&l), 1, 1000), Ok(()));
        assert_eq!(may_back_up(None, 1, 0), Ok(()));
        assert_eq!(Lease::parse("x:y"), None);
    }
}
