locals {
  # listener port => target group key
  master_listeners = { "80" = "master", "5050" = "master" }
  zk_listeners = merge(
    { "2181" = "zk_client", "8080" = "zk_api", "80" = "zk_api" },
    var.zookeeper_tls ? { "2281" = "zk_tls" } : {}, # ZooKeeper's TLS client port (mesos:zk-tls)
  )

  # Target group names carry a hash of what forces a replacement (port, protocol, target type,
  # VPC), so that a replacement made by create_before_destroy has a new name. At most
  # 19 + 1 + 5 + 1 + 6 = 32 characters, AWS's limit.
  tg_base = {
    master    = "${var.cluster_name}-m5050"
    zk_client = "${var.cluster_name}-z2181"
    zk_api    = "${var.cluster_name}-z8080"
    zk_tls    = "${var.cluster_name}-z2281"
  }
  tg_ports = { master = 5050, zk_client = 2181, zk_api = 8080, zk_tls = 2281 }
  tg_names = {
    for k, base in local.tg_base :
    k => "${base}-${substr(sha1(jsonencode([local.tg_ports[k], "TCP", "instance", var.vpc_id])), 0, 6)}"
  }

  target_groups = merge({
    master = {
      lb = "master", name = local.tg_names.master, port = 5050
      hc = { port = "traffic-port", path = var.master_health_path }
    }
    zk_client = {
      lb = "zookeeper", name = local.tg_names.zk_client, port = 2181
      hc = { port = "8080", path = var.zookeeper_health_path } # ZooKeeper's health as mesos-boot serve sees it
    }
    zk_api = {
      lb = "zookeeper", name = local.tg_names.zk_api, port = 8080
      hc = { port = "traffic-port", path = var.zookeeper_health_path }
    }
    }, var.zookeeper_tls ? {
    zk_tls = {
      lb = "zookeeper", name = local.tg_names.zk_tls, port = 2281
      hc = { port = "8080", path = var.zookeeper_health_path }
    }
  } : {})

  lbs = {
    master    = { name = "${var.cluster_name}-mesos-master", sgs = var.master_security_group_ids, record = "mesos-master" }
    zookeeper = { name = "${var.cluster_name}-zookeeper", sgs = var.zookeeper_security_group_ids, record = "zookeeper" }
  }

  listeners = merge(
    { for p, tg in local.master_listeners : "master-${p}" => { lb = "master", port = tonumber(p), tg = tg } },
    { for p, tg in local.zk_listeners : "zookeeper-${p}" => { lb = "zookeeper", port = tonumber(p), tg = tg } },
  )
}

resource "aws_lb" "this" {
  for_each = local.lbs

  #checkov:skip=CKV_AWS_91:NLB access logs only cover TLS listeners; these are TCP (Mesos and ZooKeeper speak their own protocols). VPC flow logs cover the traffic.
  name                             = each.value.name
  load_balancer_type               = "network"
  internal                         = true
  subnets                          = var.subnet_ids
  security_groups                  = each.value.sgs
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == "" ? [] : [1]
    content {
      bucket  = var.access_logs_bucket
      prefix  = "nlb/${each.key}"
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  for_each = local.target_groups

  name                 = each.value.name
  port                 = each.value.port
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = each.value.hc.port
    path                = each.value.hc.path
    matcher             = "200-399"
    interval            = 10
    healthy_threshold   = 3
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = local.tg_base[each.key] })

  # A listener always points at a target group: the replacement must exist before the old one
  # goes (its name differs, see tg_names).
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "this" {
  for_each = local.listeners

  #checkov:skip=CKV_AWS_2:TCP pass-through: Mesos (HTTP on 5050) and ZooKeeper (binary protocol) terminate their own connections; the NLB is internal.
  #checkov:skip=CKV_AWS_103:No TLS listener to set a policy on (TCP pass-through).
  load_balancer_arn = aws_lb.this[each.value.lb].arn
  port              = each.value.port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.value.tg].arn
  }

  tags = var.tags
}

resource "aws_route53_record" "this" {
  for_each = local.lbs

  zone_id = var.zone_id
  name    = "${each.value.record}.${var.domain}"
  type    = "A"

  alias {
    name                   = aws_lb.this[each.key].dns_name
    zone_id                = aws_lb.this[each.key].zone_id
    evaluate_target_health = true
  }
}
