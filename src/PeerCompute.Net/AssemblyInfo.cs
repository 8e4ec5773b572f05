namespace PeerCompute.Net;
