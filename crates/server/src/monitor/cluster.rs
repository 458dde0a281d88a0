//! `/routez`, `/gatewayz` and `/leafz`: well-formed and empty until routes, gateways and
//! leaf nodes exist. Their query parameters are decoded (and rejected with nats-server's
//! texts when malformed) so scripts that pass them keep working; when clustering lands,
//! the lists are filled here from the cluster module's state.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::format::ser_time;
use super::{Query, QueryError};
use crate::server::Server;

#[derive(Serialize)]
pub struct Routez {
    pub server_id: String,
    pub server_name: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    pub num_routes: usize,
    pub routes: Vec<serde_json::Value>,
}

/// `/routez` (`subs=1|detail`).
pub fn routez(server: &Server, q: &Query) -> Result<Routez, QueryError> {
    q.subs()?;
    Ok(Routez {
        server_id: server.id.clone(),
        server_name: server.name.clone(),
        now: SystemTime::now(),
        num_routes: 0,
        routes: Vec::new(),
    })
}

#[derive(Serialize)]
pub struct Gatewayz {
    pub server_id: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    pub outbound_gateways: BTreeMap<String, serde_json::Value>,
    pub inbound_gateways: BTreeMap<String, serde_json::Value>,
}

/// `/gatewayz` (`subs`, `accs`, `gw_name`, `acc_name`).
pub fn gatewayz(server: &Server, q: &Query) -> Result<Gatewayz, QueryError> {
    q.subs()?;
    q.bool("accs")?;
    Ok(Gatewayz {
        server_id: server.id.clone(),
        now: SystemTime::now(),
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    })
}

#[derive(Serialize)]
pub struct Leafz {
    pub server_id: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    pub leafnodes: usize,
    pub leafs: Vec<serde_json::Value>,
}

/// `/leafz` (`subs`, `acc`).
pub fn leafz(server: &Server, q: &Query) -> Result<Leafz, QueryError> {
    q.bool("subs")?;
    Ok(Leafz {
        server_id: server.id.clone(),
        now: SystemTime::now(),
        leafnodes: 0,
        leafs: Vec::new(),
    })
}
