# One security group per role and per load balancer. Every rule is its own
# resource with a description, so a reviewer can read the whole matrix below.

locals {
  # "from-to" for a range, else one port
  task_ports = "${var.task_port_range.from}-${var.task_port_range.to}"

  groups = {
    zookeeper    = "ZooKeeper nodes (ZooKeeper, mesos-boot serve / Exhibitor API)"
    master       = "Mesos masters"
    agent        = "Mesos agents"
    lb_master    = "Internal NLB mesos-master (80, 5050)"
    lb_zookeeper = "Internal NLB zookeeper (2181, 8080, 80)"
    autoscaler   = "Autoscaler Lambda ENIs"
  }

  # ZooKeeper's TLS client port (mesos:zk-tls), through the NLB only.
  tls_ingress = var.zookeeper_tls ? {
    zk_tls_lb = ["zookeeper", 2281, "lb_zookeeper", "ZooKeeper TLS clients through the zookeeper NLB"]
  } : {}
  tls_egress = var.zookeeper_tls ? {
    lb_zk_tls = ["lb_zookeeper", 2281, "zookeeper", "NLB to ZooKeeper's TLS client port"]
  } : {}

  # name => [security group, port, source/destination group, description]
  sg_ingress = {
    zk_client_self   = ["zookeeper", 2181, "zookeeper", "ZooKeeper client port between ensemble members"]
    zk_peer_self     = ["zookeeper", 2888, "zookeeper", "ZooKeeper quorum (follower to leader)"]
    zk_election_self = ["zookeeper", 3888, "zookeeper", "ZooKeeper leader election"]
    zk_api_self      = ["zookeeper", 8080, "zookeeper", "Exhibitor API between ensemble members"]
    zk_client_master = ["zookeeper", 2181, "master", "ZooKeeper clients: Mesos masters"]
    zk_client_agent  = ["zookeeper", 2181, "agent", "ZooKeeper clients: Mesos agents (master detection)"]
    zk_client_lb     = ["zookeeper", 2181, "lb_zookeeper", "ZooKeeper clients through the zookeeper NLB"]
    zk_api_lb        = ["zookeeper", 8080, "lb_zookeeper", "Exhibitor API and /health through the zookeeper NLB"]
    master_self      = ["master", 5050, "master", "Mesos masters among themselves (replicated log, leader)"]
    master_agent     = ["master", 5050, "agent", "Mesos agents registering with the masters"]
    master_lb        = ["master", 5050, "lb_master", "Mesos API/UI and /master/health through the mesos-master NLB"]
    master_as        = ["master", 5050, "autoscaler", "Autoscaler to the leading master it was redirected to (/master/redirect)"]
    # Masters and agents reach ZooKeeper through the zookeeper NLB's name by default
    # (mesos:zk-endpoint); agents (and their tasks) find the masters at mesos-master.<domain>.
    lb_zk_master     = ["lb_zookeeper", 2181, "master", "Mesos masters to ZooKeeper through the zookeeper NLB (mesos:zk-endpoint)"]
    lb_zk_agent      = ["lb_zookeeper", 2181, "agent", "Mesos agents to ZooKeeper through the zookeeper NLB (mesos:zk-endpoint)"]
    lb_master_a80    = ["lb_master", 80, "agent", "Agents and their tasks to the mesos-master NLB on 80"]
    lb_master_a505   = ["lb_master", 5050, "agent", "Agents and their tasks to the mesos-master NLB on 5050"]
    agent_master     = ["agent", 5051, "master", "Mesos masters to agents"]
    agent_tasks_self = ["agent", local.task_ports, "agent", "Task ports between agents (tasks talking to tasks)"]
    lb_master_as     = ["lb_master", 5050, "autoscaler", "Autoscaler reads master metrics"]
  }

  sg_egress = {
    zk_client_self   = ["zookeeper", 2181, "zookeeper", "ZooKeeper client port between ensemble members"]
    zk_peer_self     = ["zookeeper", 2888, "zookeeper", "ZooKeeper quorum (follower to leader)"]
    zk_election_self = ["zookeeper", 3888, "zookeeper", "ZooKeeper leader election"]
    zk_api_self      = ["zookeeper", 8080, "zookeeper", "Exhibitor API between ensemble members"]
    master_zk        = ["master", 2181, "zookeeper", "Mesos masters to ZooKeeper"]
    master_self      = ["master", 5050, "master", "Mesos masters among themselves"]
    master_agent     = ["master", 5051, "agent", "Mesos masters to agents"]
    agent_zk         = ["agent", 2181, "zookeeper", "Mesos agents to ZooKeeper"]
    agent_master     = ["agent", 5050, "master", "Mesos agents to masters"]
    agent_tasks_self = ["agent", local.task_ports, "agent", "Task ports between agents (tasks talking to tasks)"]
    lb_master_tg     = ["lb_master", 5050, "master", "NLB to masters (traffic and health checks)"]
    lb_zk_client     = ["lb_zookeeper", 2181, "zookeeper", "NLB to ZooKeeper client port"]
    lb_zk_api        = ["lb_zookeeper", 8080, "zookeeper", "NLB to Exhibitor API (traffic and health checks)"]
    as_master_lb     = ["autoscaler", 5050, "lb_master", "Autoscaler reads master metrics through the NLB"]
    as_master        = ["autoscaler", 5050, "master", "Autoscaler to the leading master (after /master/redirect)"]
    master_lb_zk     = ["master", 2181, "lb_zookeeper", "Mesos masters to ZooKeeper through the zookeeper NLB (mesos:zk-endpoint)"]
    agent_lb_zk      = ["agent", 2181, "lb_zookeeper", "Mesos agents to ZooKeeper through the zookeeper NLB (mesos:zk-endpoint)"]
    agent_lb_m80     = ["agent", 80, "lb_master", "Agents and their tasks to the mesos-master NLB on 80"]
    agent_lb_m5050   = ["agent", 5050, "lb_master", "Agents and their tasks to the mesos-master NLB on 5050"]
  }

  nodes_and_lambda = ["zookeeper", "master", "agent", "autoscaler"]
  # What clients (client_cidr_blocks) reach: the NLBs' listeners; the leading master itself
  # (the UI and API redirect to it); the agents' 5051 (sandboxes, files) and task ports.
  client_ports = {
    lb_master_80   = ["lb_master", 80, "Clients to the internal NLB on 80"]
    lb_master_5050 = ["lb_master", 5050, "Clients to the internal NLB on 5050"]
    lb_zk_2181     = ["lb_zookeeper", 2181, "Clients to the internal NLB on 2181"]
    lb_zk_8080     = ["lb_zookeeper", 8080, "Clients to the internal NLB on 8080"]
    lb_zk_80       = ["lb_zookeeper", 80, "Clients to the internal NLB on 80"]
    master_5050    = ["master", 5050, "Clients to the leading master (UI and API redirect there)"]
    agent_5051     = ["agent", 5051, "Clients to the agents (sandboxes and task logs in the UI)"]
    agent_tasks    = ["agent", local.task_ports, "Clients to the task ports of the agents"]
  }
  tls_client_ports = var.zookeeper_tls ? {
    lb_zk_2281 = ["lb_zookeeper", 2281, "ZooKeeper TLS clients to the internal NLB on 2281"]
  } : {}
  client_rules = merge([
    for k, v in merge(local.client_ports, local.tls_client_ports) : {
      for c in var.client_cidr_blocks : "${k}_${c}" => [v[0], v[1], c, v[2]]
    }
  ]...)
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached by the node, load_balancers and autoscaler modules (see sample/); a scan of this module alone cannot see it
  for_each = local.groups

  # name_prefix: create_before_destroy needs the replacement to have another name.
  name_prefix = "${var.name}-${replace(each.key, "_", "-")}-"
  description = each.value
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${replace(each.key, "_", "-")}" })

  # Deleting the autoscaler's group also waits for, and deletes, the ENIs Lambda leaves behind.
  timeouts {
    delete = "45m"
  }

  lifecycle {
    create_before_destroy = true
    # Both force a replacement, which fails after 45 minutes (DependencyViolation) while
    # instances, NLBs or Lambda ENIs still use the group: an edit of the text or of the naming
    # scheme must never replace a group. A new description takes a new group (see README).
    ignore_changes = [description, name_prefix]
  }
}

resource "aws_vpc_security_group_ingress_rule" "group" {
  for_each = merge(local.sg_ingress, local.tls_ingress)

  security_group_id            = aws_security_group.this[each.value[0]].id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(split("-", tostring(each.value[1]))[0])
  to_port                      = tonumber(reverse(split("-", tostring(each.value[1])))[0])
  referenced_security_group_id = aws_security_group.this[each.value[2]].id
  description                  = each.value[3]

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "group" {
  for_each = merge(local.sg_egress, local.tls_egress)

  security_group_id            = aws_security_group.this[each.value[0]].id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(split("-", tostring(each.value[1]))[0])
  to_port                      = tonumber(reverse(split("-", tostring(each.value[1])))[0])
  referenced_security_group_id = aws_security_group.this[each.value[2]].id
  description                  = each.value[3]

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = local.client_rules

  security_group_id = aws_security_group.this[each.value[0]].id
  ip_protocol       = "tcp"
  from_port         = tonumber(split("-", tostring(each.value[1]))[0])
  to_port           = tonumber(reverse(split("-", tostring(each.value[1])))[0])
  cidr_ipv4         = each.value[2]
  description       = each.value[3]

  tags = var.tags
}

# AWS APIs: S3 through the gateway endpoint, the others through interface endpoints in the VPC.
resource "aws_vpc_security_group_egress_rule" "s3" {
  for_each = toset(local.nodes_and_lambda)

  security_group_id = aws_security_group.this[each.value].id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
  description       = "HTTPS to S3 through the gateway endpoint"

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "endpoints" {
  for_each = toset(local.nodes_and_lambda)

  security_group_id = aws_security_group.this[each.value].id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr_block
  description       = "HTTPS to the interface VPC endpoints (EC2, Auto Scaling, STS, Logs)"

  tags = var.tags
}

# AWS APIs through a NAT path instead of interface endpoints (an existing VPC without them).
resource "aws_vpc_security_group_egress_rule" "api" {
  for_each = { for p in setproduct(local.nodes_and_lambda, var.api_egress_cidr_blocks) : "${p[0]}_${p[1]}" => p }

  security_group_id = aws_security_group.this[each.value[0]].id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value[1]
  description       = "HTTPS to the AWS APIs (EC2, Auto Scaling, STS, Logs) through ${each.value[1]} (api_egress_cidr_blocks)"

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "agent_tasks" {
  for_each = toset(var.agent_egress_cidr_blocks)

  security_group_id = aws_security_group.this["agent"].id
  ip_protocol       = "-1"
  cidr_ipv4         = each.value
  description       = "Agent tasks to ${each.value} (agent_egress_cidr_blocks)"

  tags = var.tags
}
