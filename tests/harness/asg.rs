//! Auto Scaling groups in moto for the autoscaler's tests, and a stand-in for a failing Auto
//! Scaling API.
//!
//! [`create_group`] makes a launch template and a group of its own (unique names) whose
//! instances land in two subnets (two availability zones) of a VPC with a loopback CIDR, so
//! every address in a test is a 127.x one. [`group`] reads the group back (sizes, instances
//! with their IPs, hostnames and tags). [`Throttler`] answers every Query-API request with
//! a `Throttling` error and counts them.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};

use crate::moto::{Moto, REGION};

/// CIDR of the VPC the groups' instances live in.
pub const GROUP_VPC_CIDR: &str = "127.64.0.0/16";

/// An Auto Scaling client for `moto`.
pub fn autoscaling(moto: &Moto) -> aws_sdk_autoscaling::Client {
    let conf = aws_sdk_autoscaling::Config::builder()
        .behavior_version(aws_sdk_autoscaling::config::BehaviorVersion::latest())
        .region(aws_sdk_autoscaling::config::Region::new(REGION))
        .credentials_provider(aws_sdk_autoscaling::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "mesos-boot-tests",
        ))
        .endpoint_url(moto.endpoint())
        .build();
    aws_sdk_autoscaling::Client::from_conf(conf)
}

/// The two subnets (`us-east-1a`, `us-east-1b`) of the groups' VPC, created once per process.
async fn subnets(moto: &Moto) -> String {
    static SUBNETS: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    SUBNETS
        .get_or_init(|| async {
            let ec2 = moto.ec2();
            let vpc = ec2
                .create_vpc()
                .cidr_block(GROUP_VPC_CIDR)
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateVpc {GROUP_VPC_CIDR}: {e:?}"));
            let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
            let mut ids = Vec::new();
            for (cidr, az) in [("127.64.1.0/24", "a"), ("127.64.2.0/24", "b")] {
                let s = ec2
                    .create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(cidr)
                    .availability_zone(format!("{REGION}{az}"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("CreateSubnet {cidr}: {e:?}"));
                ids.push(
                    s.subnet()
                        .and_then(|s| s.subnet_id())
                        .expect("subnet id")
                        .to_string(),
                );
            }
            ids.join(",")
        })
        .await
        .clone()
}

/// Creates a launch template and an Auto Scaling group `<prefix>-<pid>-<n>` with these sizes;
/// moto launches the desired instances at once. Returns the group's name.
pub async fn create_group(moto: &Moto, prefix: &str, desired: i32, min: i32, max: i32) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let ami = moto.ami().await;
    moto.ec2()
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(ami)
                .instance_type(InstanceType::T3Medium)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLaunchTemplate {name}: {e:?}"));
    autoscaling(moto)
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name(&name)
                .version("$Latest")
                .build(),
        )
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .vpc_zone_identifier(subnets(moto).await)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAutoScalingGroup {name}: {e:?}"));
    name
}

/// One instance of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInstance {
    pub id: String,
    pub az: String,
    pub lifecycle: String,
    pub ip: String,
    pub hostname: String,
    pub tags: BTreeMap<String, String>,
}

/// A group as moto reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    pub tags: BTreeMap<String, String>,
    /// Sorted by id.
    pub instances: Vec<GroupInstance>,
}

impl Group {
    pub fn instance_ids(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.id.clone()).collect()
    }
}

/// Reads group `name` and its instances' EC2 data.
pub async fn group(moto: &Moto, name: &str) -> Group {
    let out = autoscaling(moto)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeAutoScalingGroups {name}: {e:?}"));
    let g = out
        .auto_scaling_groups()
        .first()
        .unwrap_or_else(|| panic!("no group {name}"));
    let tags = g
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let mut instances = Vec::new();
    let ids: Vec<String> = g
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    if !ids.is_empty() {
        let d = moto
            .ec2()
            .describe_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeInstances of {name}: {e:?}"));
        let ec2: BTreeMap<String, aws_sdk_ec2::types::Instance> = d
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| Some((i.instance_id()?.to_string(), i.clone())))
            .collect();
        for i in g.instances() {
            let id = i.instance_id().expect("instance id").to_string();
            let e = &ec2[&id];
            instances.push(GroupInstance {
                az: i.availability_zone().unwrap_or_default().to_string(),
                lifecycle: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                ip: e.private_ip_address().unwrap_or_default().to_string(),
                hostname: e.private_dns_name().unwrap_or_default().to_string(),
                tags: e
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect(),
                id,
            });
        }
    }
    instances.sort_by(|a, b| a.id.cmp(&b.id));
    Group {
        desired: g.desired_capacity().unwrap_or_default(),
        min: g.min_size().unwrap_or_default(),
        max: g.max_size().unwrap_or_default(),
        tags,
        instances,
    }
}

/// The state of EC2 instance `id` (`running`, `terminated`, ...).
pub async fn instance_state(moto: &Moto, id: &str) -> String {
    let d = moto
        .ec2()
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeInstances {id}: {e:?}"));
    d.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.state()?.name().map(|n| n.as_str().to_string()))
        .unwrap_or_default()
}

/// An endpoint that answers every request with HTTP 400 `Throttling` (the Query API's error
/// shape), counting requests; point `AWS_ENDPOINT_URL_AUTO_SCALING` at it. Stops on drop.
pub struct Throttler {
    addr: SocketAddr,
    hits: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Throttler {
    pub fn start() -> Throttler {
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind throttler");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("throttler address");
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    [("content-type", "text/xml")],
                    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                     <Message>Rate exceeded</Message></Error>\
                     <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>",
                )
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("throttler runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
        });
        Throttler {
            addr,
            hits,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for Throttler {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
