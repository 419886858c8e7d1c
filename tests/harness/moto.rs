//! One `moto_server` (AWS S3/EC2 emulator) per test process, and async S3 and
//! EC2 helpers that talk to it.
//!
//! [`Moto::shared`] starts it on first use on `127.0.0.1:<free port>` as a
//! child process bound to the test process (`PR_SET_PDEATHSIG` + `atexit`,
//! see [`crate::proc`]), and polls it until it answers. Tests share it, so
//! they must use their own names: [`Moto::unique_bucket`], their own tag values.
//!
//! The server binary is `$MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server`,
//! else `moto_server` on `PATH`.
//!
//! The helpers are async and panic on unexpected errors (they are test
//! assertions). Use them from `#[tokio::test(flavor = "multi_thread")]`, or
//! from sync tests through [`crate::block_on`]; each call builds a fresh SDK
//! client, so no connection outlives the runtime that made it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, InstanceType, ResourceType, Tag, TagSpecification};
use aws_sdk_s3::primitives::ByteStream;

use crate::{proc, workspace_root};

/// Env var naming the `moto_server` executable.
pub const MOTO_SERVER_ENV: &str = "MOTO_SERVER";
/// Region of every client and of the environment handed to mesos-boot.
pub const REGION: &str = "us-east-1";
/// CIDR of the VPC/subnet used by [`Moto::run_instance_at`].
pub const LOOPBACK_CIDR: &str = "127.0.0.0/16";

/// How long moto may take to come up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Finds the `moto_server` executable: `$MOTO_SERVER`, then
/// `<workspace>/.venv/bin/moto_server`, then `moto_server` on `PATH`.
pub fn moto_server_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(MOTO_SERVER_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{MOTO_SERVER_ENV}={} is not a file", p.display()))
        };
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("moto_server");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(format!(
        "moto_server not found: set {MOTO_SERVER_ENV}, or create {} \
         (python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'), \
         or put moto_server on PATH",
        workspace_root().join(".venv").display()
    ))
}

/// The process-wide moto server.
pub struct Moto {
    endpoint: String,
    log_path: PathBuf,
    _child: Mutex<Child>,
    ami: tokio::sync::OnceCell<String>,
    loopback_subnet: tokio::sync::OnceCell<String>,
}

impl Moto {
    /// The moto server of this test process, started on first call (panics
    /// with moto's log if it cannot be started within 60 s).
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("{e}")))
    }

    fn start() -> Result<Moto, String> {
        Moto::start_on(Ipv4Addr::LOCALHOST)
    }

    /// A moto server of its own on `host` (e.g. an address in a network namespace the test
    /// created, so that the namespaces' programs reach it); stopped with the test process.
    pub fn start_on(host: Ipv4Addr) -> Result<Moto, String> {
        let exe = moto_server_path()?;
        let mut last_err = String::new();
        // A freshly probed port can be taken before moto binds it: retry.
        for attempt in 0..3 {
            let port = crate::net::free_port(host);
            let log_path = std::env::temp_dir().join(format!(
                "mesos-boot-tests-moto-{}-{attempt}.log",
                std::process::id()
            ));
            let log = std::fs::File::create(&log_path)
                .map_err(|e| format!("{}: {e}", log_path.display()))?;
            // moto_ext.py: moto_server plus the lifecycle-hook actions moto lacks, run by the
            // Python interpreter of moto's own environment.
            let python = exe
                .parent()
                .map(|d| d.join("python3"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("python3"));
            let mut cmd = Command::new(&python);
            cmd.arg(workspace_root().join("tests/harness/moto_ext.py"))
                .args(["-H", &host.to_string(), "-p", &port.to_string()])
                // AWS managed policies (AWSLambdaVPCAccessExecutionRole, ...) for Terraform.
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log);
            let mut child = proc::spawn_bound(cmd)
                .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
            let endpoint = format!("http://{host}:{port}");
            let deadline = Instant::now() + STARTUP_TIMEOUT;
            loop {
                if let Ok(r) = crate::http::get(&format!("{endpoint}/moto-api/"), &[]) {
                    if r.status < 500 {
                        return Ok(Moto {
                            endpoint,
                            log_path,
                            _child: Mutex::new(child),
                            ami: tokio::sync::OnceCell::new(),
                            loopback_subnet: tokio::sync::OnceCell::new(),
                        });
                    }
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!(
                        "{} exited ({status}) on port {port}:\n{}",
                        exe.display(),
                        crate::zk::log_tail(&log_path, 30)
                    );
                    break;
                }
                if Instant::now() >= deadline {
                    proc::terminate_child(&mut child, Duration::from_secs(1));
                    return Err(format!(
                        "{} not answering on port {port} after {STARTUP_TIMEOUT:?}:\n{}",
                        exe.display(),
                        crate::zk::log_tail(&log_path, 30)
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            proc::unregister_pid(child.id());
        }
        Err(last_err)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// moto's stdout/stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Environment pointing an AWS SDK program (mesos-boot) at this server:
    /// `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID=testing`,
    /// `AWS_SECRET_ACCESS_KEY=testing`, `AWS_REGION=us-east-1`.
    /// (`AWS_EC2_METADATA_DISABLED` is deliberately not set.)
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn credentials() -> aws_sdk_s3::config::Credentials {
        aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "mesos-boot-tests")
    }

    /// An S3 client for this server (path-style addressing).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(Self::credentials())
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An EC2 client for this server.
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new(REGION))
            .credentials_provider(Self::credentials())
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    /// An Auto Scaling client for this server.
    pub fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        let conf = aws_sdk_autoscaling::Config::builder()
            .behavior_version(aws_sdk_autoscaling::config::BehaviorVersion::latest())
            .region(aws_sdk_autoscaling::config::Region::new(REGION))
            .credentials_provider(Self::credentials())
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_autoscaling::Client::from_conf(conf)
    }

    /// Creates Auto Scaling group `name` (a launch template of its own, moto's default
    /// subnets, never loopback addresses) with `desired` instances.
    pub async fn create_asg(&self, name: &str, desired: i32) {
        let ami = self.ami().await;
        self.ec2()
            .create_launch_template()
            .launch_template_name(format!("{name}-lt"))
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .image_id(ami)
                    .instance_type(InstanceType::T3Medium)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLaunchTemplate {name}-lt: {e:?}"));
        self.autoscaling()
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_name(format!("{name}-lt"))
                    .build(),
            )
            .min_size(0)
            .max_size(desired.max(1) * 2)
            .desired_capacity(desired)
            .availability_zones(format!("{REGION}a"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateAutoScalingGroup {name}: {e:?}"));
    }

    /// Instance ids of Auto Scaling group `name`.
    pub async fn asg_instances(&self, name: &str) -> Vec<String> {
        let out = self
            .autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeAutoScalingGroups {name}: {e:?}"));
        out.auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect()
    }

    /// Creates group `name` with a launch lifecycle hook `hook` in place before its `desired`
    /// instances launch, so they wait in `Pending:Wait` as on AWS.
    pub async fn create_asg_with_launch_hook(&self, name: &str, desired: i32, hook: &str) {
        self.create_asg(name, 0).await;
        self.put_launch_hook(name, hook).await;
        self.set_desired(name, desired).await;
    }

    /// Sets the desired capacity of group `name` (raising its max when needed).
    pub async fn set_desired(&self, name: &str, desired: i32) {
        self.autoscaling()
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .max_size(desired.max(1) * 2)
            .desired_capacity(desired)
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateAutoScalingGroup {name} desired {desired}: {e:?}"));
    }

    /// Adds a launch lifecycle hook `hook` to group `name`.
    pub async fn put_launch_hook(&self, name: &str, hook: &str) {
        self.autoscaling()
            .put_lifecycle_hook()
            .auto_scaling_group_name(name)
            .lifecycle_hook_name(hook)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
            .heartbeat_timeout(900)
            .default_result("ABANDON")
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutLifecycleHook {name}/{hook}: {e:?}"));
    }

    /// Adds a termination lifecycle hook `hook` to group `name` (as Terraform's
    /// `mesos-boot-left`: 600 s heartbeat timeout, CONTINUE by default).
    pub async fn put_termination_hook(&self, name: &str, hook: &str) {
        self.autoscaling()
            .put_lifecycle_hook()
            .auto_scaling_group_name(name)
            .lifecycle_hook_name(hook)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
            .heartbeat_timeout(600)
            .default_result("CONTINUE")
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutLifecycleHook {name}/{hook}: {e:?}"));
    }

    /// `(lifecycle state, health status)` of an instance in its Auto Scaling group.
    pub async fn asg_instance_state(&self, id: &str) -> Option<(String, String)> {
        let out = self
            .autoscaling()
            .describe_auto_scaling_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeAutoScalingInstances {id}: {e:?}"));
        out.auto_scaling_instances().first().map(|i| {
            (
                i.lifecycle_state().unwrap_or_default().to_string(),
                i.health_status().unwrap_or_default().to_string(),
            )
        })
    }

    /// Creates a new, empty bucket named `<prefix>-<pid>-<n>-<random>`
    /// (prefix sanitised to S3 rules) and returns its name.
    pub async fn unique_bucket(&self, prefix: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let mut p: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(30)
            .collect();
        p = p.trim_matches('-').to_string();
        if p.is_empty() {
            p = "bucket".into();
        }
        let name = format!(
            "{p}-{}-{}-{:06x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>() & 0xff_ffff
        );
        self.s3()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateBucket {name}: {e:?}"));
        name
    }

    /// Turns versioning on for `bucket` (as the cluster bucket has it).
    pub async fn enable_versioning(&self, bucket: &str) {
        self.s3()
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutBucketVersioning {bucket}: {e:?}"));
    }

    /// `host:port` of the server.
    pub fn host_port(&self) -> String {
        self.endpoint.trim_start_matches("http://").to_string()
    }

    /// Puts an object; returns its ETag.
    pub async fn put_object(&self, bucket: &str, key: &str, bytes: impl Into<Vec<u8>>) -> String {
        let out = self
            .s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject s3://{bucket}/{key}: {e:?}"));
        out.e_tag().unwrap_or_default().to_string()
    }

    /// Every key under `prefix` in `bucket`.
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .s3()
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("ListObjectsV2 s3://{bucket}/{prefix}: {e:?}"));
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return keys;
            }
        }
    }

    /// The object's bytes and ETag, or `None` if there is no such key.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Option<(Vec<u8>, String)> {
        match self.s3().get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let body = out
                    .body
                    .collect()
                    .await
                    .unwrap_or_else(|e| panic!("reading s3://{bucket}/{key}: {e:?}"))
                    .into_bytes()
                    .to_vec();
                Some((body, etag))
            }
            Err(e) => match e.into_service_error() {
                aws_sdk_s3::operation::get_object::GetObjectError::NoSuchKey(_) => None,
                other => panic!("GetObject s3://{bucket}/{key}: {other:?}"),
            },
        }
    }

    /// Deletes an object (no error if absent).
    pub async fn delete_object(&self, bucket: &str, key: &str) {
        self.s3()
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteObject s3://{bucket}/{key}: {e:?}"));
    }

    /// An AMI id moto knows (the first of DescribeImages), cached.
    pub async fn ami(&self) -> String {
        self.ami
            .get_or_init(|| async {
                let out = self
                    .ec2()
                    .describe_images()
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("DescribeImages: {e:?}"));
                out.images()
                    .iter()
                    .filter_map(|i| i.image_id())
                    .min()
                    .expect("moto knows no AMI")
                    .to_string()
            })
            .await
            .clone()
    }

    /// Launches one instance tagged with `tags`; returns its id and private IP
    /// (an address moto picks in its default VPC).
    pub async fn run_instance(&self, tags: &[(&str, &str)]) -> (String, Ipv4Addr) {
        self.launch(tags, None).await
    }

    /// Launches one instance tagged with `tags` whose private IP is `ip`, a
    /// loopback address in 127.0.0.0/16 (e.g. from [`crate::net::alloc_ips`]),
    /// so peers discovered through EC2 are reachable in tests. Uses a VPC and
    /// subnet with CIDR [`LOOPBACK_CIDR`], created once per process.
    pub async fn run_instance_at(&self, ip: Ipv4Addr, tags: &[(&str, &str)]) -> (String, Ipv4Addr) {
        self.launch(tags, Some(ip)).await
    }

    async fn loopback_subnet(&self) -> String {
        self.loopback_subnet
            .get_or_init(|| async {
                let ec2 = self.ec2();
                let vpc = ec2
                    .create_vpc()
                    .cidr_block(LOOPBACK_CIDR)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("CreateVpc {LOOPBACK_CIDR}: {e:?}"));
                let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
                let subnet = ec2
                    .create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(LOOPBACK_CIDR)
                    .availability_zone(format!("{REGION}a"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("CreateSubnet {LOOPBACK_CIDR}: {e:?}"));
                subnet
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("subnet id")
                    .to_string()
            })
            .await
            .clone()
    }

    async fn launch(&self, tags: &[(&str, &str)], ip: Option<Ipv4Addr>) -> (String, Ipv4Addr) {
        let ami = self.ami().await;
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        let mut req = self
            .ec2()
            .run_instances()
            .image_id(ami)
            .instance_type(InstanceType::T3Medium)
            .min_count(1)
            .max_count(1)
            .tag_specifications(spec.build());
        if let Some(ip) = ip {
            req = req
                .subnet_id(self.loopback_subnet().await)
                .private_ip_address(ip.to_string());
        }
        let out = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("RunInstances: {e:?}"));
        let inst = out
            .instances()
            .first()
            .expect("RunInstances returned no instance");
        let id = inst.instance_id().expect("instance id").to_string();
        let private_ip = inst
            .private_ip_address()
            .and_then(|s| s.parse().ok())
            .expect("instance private IPv4");
        (id, private_ip)
    }

    /// Terminates an instance.
    pub async fn terminate_instance(&self, id: &str) {
        self.ec2()
            .terminate_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("TerminateInstances {id}: {e:?}"));
    }

    /// Ids of the running instances carrying tag `key=value`.
    pub async fn running_instances_tagged(&self, key: &str, value: &str) -> Vec<String> {
        let out = self
            .ec2()
            .describe_instances()
            .filters(
                Filter::builder()
                    .name(format!("tag:{key}"))
                    .values(value)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeInstances: {e:?}"));
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect()
    }
}
