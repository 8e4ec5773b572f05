namespace PeerCompute.Runtime;
