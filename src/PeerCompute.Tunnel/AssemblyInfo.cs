namespace PeerCompute.Tunnel;
