//! This ZooKeeper member as its last boot recorded it (`var/lib/mesos-boot/boot.json`): where
//! the shared config lives, its id, instance and addresses. `serve` needs no settings of its own.

use crate::cloud::lifecycle::{DEFAULT_TERMINATION_HOOK, TERMINATION_HOOK_TAG};
use crate::failure::{Failure, Result};
use crate::node::record;
use crate::store::{Location, Store};

/// This ZooKeeper member as its last boot recorded it: `serve` needs no settings of its own.
pub struct Member {
    pub store: Store,
    pub sdk: aws_config::SdkConfig,
    pub myid: u32,
    pub instance: String,
    /// `host:client-port` of the local server.
    pub local: String,
    /// The node's own address.
    pub ip: String,
    /// The Auto Scaling group of the ZooKeeper nodes, when known.
    pub group: Option<String>,
    /// The termination hook's name (`mesos:termination-hook`, else the default).
    pub termination_hook: String,
}

impl Member {
    /// Reads the boot record under `root`; refuses a node that is not a ZooKeeper member.
    pub async fn from_record(root: &std::path::Path) -> Result<Member> {
        let rec = record::load(root).map_err(|e| {
            Failure::bad_input(format!("mesos-boot serve needs a boot record: {e}"))
        })?;
        if rec.role.as_deref() != Some("zookeeper") {
            return Err(Failure::bad_input(
                "mesos-boot serve runs on ZooKeeper nodes only",
            ));
        }
        let url = rec
            .shared_config
            .as_ref()
            .and_then(|s| s["location"].as_str())
            .ok_or_else(|| Failure::bad_input("the boot record names no shared config"))?;
        let location = Location::parse(url).map_err(Failure::bad_input)?;
        let id = &rec.identity;
        let sdk =
            crate::cloud::sdk_config(id["region"]["value"].as_str().unwrap_or("us-east-1")).await;
        let store = match location {
            Location::S3 { .. } => Store::new(location, Some(&sdk)),
            Location::File { .. } => Store::new(location, None),
        };
        let myid = rec.myid.unwrap_or_default();
        let local = rec
            .ensemble
            .iter()
            .find(|m| m.id == myid)
            .map(|m| m.addr.clone())
            .ok_or_else(|| Failure::bad_input(format!("the boot record lists no server.{myid}")))?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        Ok(Member {
            store,
            sdk,
            myid,
            instance: text(&id["instance_id"]["value"]).unwrap_or_default(),
            local,
            ip: text(&id["ip"]["value"]).unwrap_or_default(),
            group: text(&id["tags"][crate::config::identity::ASG_TAG]),
            termination_hook: text(&id["tags"][TERMINATION_HOOK_TAG])
                .unwrap_or_else(|| DEFAULT_TERMINATION_HOOK.to_string()),
        })
    }
}
