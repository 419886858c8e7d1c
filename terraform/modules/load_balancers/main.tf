locals {
  # listener port => target group key
  master_listeners = { "80" = "master", "5050" = "master" }
  zk_listeners     = { "2181" = "zk_client", "8080" = "zk_api", "80" = "zk_api" }

  target_groups = {
    master = {
      lb = "master", name = "${var.cluster_name}-master-5050", port = 5050
      hc = { port = "traffic-port", path = var.master_health_path }
    }
    zk_client = {
      lb = "zookeeper", name = "${var.cluster_name}-zk-2181", port = 2181
      hc = { port = "8080", path = var.zookeeper_health_path } # ZooKeeper's health as mesos-boot serve sees it
    }
    zk_api = {
      lb = "zookeeper", name = "${var.cluster_name}-zk-8080", port = 8080
      hc = { port = "traffic-port", path = var.zookeeper_health_path }
    }
  }

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

  tags = var.tags
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
