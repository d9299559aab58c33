//! Coordination of work across processes sharing one ledger: claims (one holder of a name, of a
//! database's running backup, of a target's running restore), leases (a running backup or
//! restore says its process is alive), and this process's registry of running work.

mod claims;
mod leases;
mod running;

pub(crate) use leases::Lapse;
pub(crate) use running::Running;

use backline_infra::claims::Claims;
use backline_infra::leases::Leases;
use backline_infra::Ledger;

pub struct Coordination {
    pub(crate) claims: Claims,
    pub(crate) leases: Leases,
    pub(crate) running: Running,
    ledger: Ledger,
}

impl Coordination {
    pub(crate) fn new(ledger: &Ledger) -> Self {
        Self {
            claims: Claims::new(ledger.pool().clone()),
            leases: Leases::new(ledger.pool().clone()),
            running: Running::default(),
            ledger: ledger.clone(),
        }
    }
}
