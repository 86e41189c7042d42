"""The sequential peer of stacks/network.yaml: the same 15 resources made
(and then removed) by a plain boto3 script, one call after another, with no
state, no reads for planning and no retries beyond boto3's own. scripts/bench
runs it against the same (delayed) local endpoint as deployctl and compares
the wall times.

    python benches/peer/network.py up|destroy

It reads the endpoint, region and credentials from the environment
(AWS_ENDPOINT_URL, ...), as deployctl does, and prints one JSON line:
{"calls": N, "secs": S}, the time measured from before the first client is
made to after the last call (the interpreter's start is not counted).
"""
import json
import sys
import time

import boto3

TAG = {"Key": "deployctl-bench-peer", "Value": "network"}
ZONES = {"a": (1, 11), "b": (2, 12)}


def tags(kind, name):
    return [{"ResourceType": kind, "Tags": [TAG, {"Key": "Name", "Value": name}]}]


class Counted:
    """An EC2 client that counts the calls made through it."""

    def __init__(self):
        self.ec2 = boto3.client("ec2", region_name="us-east-1")
        self.calls = 0

    def __getattr__(self, name):
        op = getattr(self.ec2, name)

        def call(**kw):
            self.calls += 1
            return op(**kw)

        return call


def wait_nat(ec2, nat_id, state):
    while True:
        got = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["State"]
        if got == state:
            return
        time.sleep(1)


def up(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tags("vpc", "network-prod"))["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    igw = ec2.create_internet_gateway(TagSpecifications=tags("internet-gateway", "network-igw"))
    igw = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public, private = {}, {}
    for z, (pub, priv) in ZONES.items():
        public[z] = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{pub}.0/24", AvailabilityZone=f"us-east-1{z}",
            TagSpecifications=tags("subnet", f"network-public-{z}"))["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=public[z], MapPublicIpOnLaunch={"Value": True})
        private[z] = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{priv}.0/24", AvailabilityZone=f"us-east-1{z}",
            TagSpecifications=tags("subnet", f"network-private-{z}"))["Subnet"]["SubnetId"]
    nat = {}
    for z in ZONES:
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=tags("elastic-ip", f"network-nat-{z}"))
        nat[z] = ec2.create_nat_gateway(
            SubnetId=public[z], AllocationId=eip["AllocationId"],
            TagSpecifications=tags("natgateway", f"network-nat-{z}"))["NatGateway"]["NatGatewayId"]
    for z in ZONES:
        wait_nat(ec2, nat[z], "available")
    rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags("route-table", "network-public"))
    rt = rt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for z in ZONES:
        ec2.associate_route_table(RouteTableId=rt, SubnetId=public[z])
    for z in ZONES:
        rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags("route-table", f"network-private-{z}"))
        rt = rt["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat[z])
        ec2.associate_route_table(RouteTableId=rt, SubnetId=private[z])
    alb = ec2.create_security_group(
        GroupName="network-alb", VpcId=vpc, Description="Load balancer - HTTP from anywhere",
        TagSpecifications=tags("security-group", "network-alb"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP"}]}])
    app = ec2.create_security_group(
        GroupName="network-app", VpcId=vpc, Description="Tasks - 8080 from the load balancer only",
        TagSpecifications=tags("security-group", "network-app"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "UserIdGroupPairs": [{"GroupId": alb, "Description": "from ALB"}]}])


def destroy(ec2):
    """Removes what `up` made, found by its tag (one read per type, as a
    script that kept no state would)."""
    mine = [{"Name": "tag:deployctl-bench-peer", "Values": ["network"]}]
    for sg in sorted(ec2.describe_security_groups(Filters=mine)["SecurityGroups"],
                     key=lambda g: g["GroupName"] != "network-app"):
        ec2.delete_security_group(GroupId=sg["GroupId"])
    for rt in ec2.describe_route_tables(Filters=mine)["RouteTables"]:
        for a in rt.get("Associations", []):
            ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=rt["RouteTableId"])
    nats = [n for n in ec2.describe_nat_gateways(Filters=mine)["NatGateways"] if n["State"] != "deleted"]
    for n in nats:
        ec2.delete_nat_gateway(NatGatewayId=n["NatGatewayId"])
    for n in nats:
        wait_nat(ec2, n["NatGatewayId"], "deleted")
    for a in ec2.describe_addresses(Filters=mine)["Addresses"]:
        ec2.release_address(AllocationId=a["AllocationId"])
    for s in ec2.describe_subnets(Filters=mine)["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    vpc = ec2.describe_vpcs(Filters=mine)["Vpcs"][0]["VpcId"]
    for g in ec2.describe_internet_gateways(Filters=mine)["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc)


def main():
    what = {"up": up, "destroy": destroy}[sys.argv[1]]
    started = time.monotonic()
    ec2 = Counted()
    what(ec2)
    print(json.dumps({"calls": ec2.calls, "secs": time.monotonic() - started}))


if __name__ == "__main__":
    main()
