using System.Globalization;
using System.Text;

namespace PeerCompute.Tunnel.Gateway;

/// <summary>
/// The gateway's counters, written in the Prometheus text format (version 0.0.4). Lock-free: every counter is an
/// interlocked add on the request path; the status counters are an array indexed by status code.
/// </summary>
public sealed class GatewayMetrics
{
    private readonly long[] _responsesByStatus = new long[600];
    private long _bytesToProviders;
    private long _bytesFromProviders;
    private long _rateLimited;
    private long _concurrencyLimited;
    private long _tunnelBusy;
    private long _routeStreamsOpened;
    private long _routeStreamsOpen;
    private long _handshakesFailed;
    private long _providersRefused;

    /// <summary>Tunnels connected now (set by whoever owns the registry).</summary>
    public Func<int>? ActiveTunnels { get; set; }

    /// <summary>Rate-limit buckets held now (one per client and deployment in use).</summary>
    public Func<int>? RateLimitBuckets { get; set; }

    /// <summary>Relay reservations held now (the gateway's libp2p relay), when it runs one.</summary>
    public Func<int>? RelayReservations { get; set; }

    /// <summary>Relayed connections (circuits) open now.</summary>
    public Func<int>? RelayCircuits { get; set; }

    /// <summary>DNS queries received by the gateway's authoritative DNS server, when it runs one.</summary>
    public Func<long>? DnsQueries { get; set; }

    /// <summary>DNS queries dropped by the per-source rate limit.</summary>
    public Func<long>? DnsRateLimited { get; set; }

    /// <summary>Failed ACME orders since the last certificate, when the gateway gets its certificate by ACME.</summary>
    public Func<int>? AcmeFailures { get; set; }

    public void RecordResponse(int status)
    {
        if (status is >= 100 and < 600)
            Interlocked.Increment(ref _responsesByStatus[status]);
    }

    public long ResponsesWithStatus(int status) => Interlocked.Read(ref _responsesByStatus[status]);

    /// <summary>Tunnel streams opened so far: a cheap "has anything happened" counter.</summary>
    public long RouteStreamsOpened => Interlocked.Read(ref _routeStreamsOpened);

    public void RecordRateLimited() => Interlocked.Increment(ref _rateLimited);

    public long RateLimited => Interlocked.Read(ref _rateLimited);

    public void RecordConcurrencyLimited() => Interlocked.Increment(ref _concurrencyLimited);

    /// <summary>A request found its provider's tunnel full (stream ceiling or receive budget) and got 503.</summary>
    public void RecordTunnelBusy() => Interlocked.Increment(ref _tunnelBusy);

    public void AddBytesToProviders(long count) => Interlocked.Add(ref _bytesToProviders, count);

    public void AddBytesFromProviders(long count) => Interlocked.Add(ref _bytesFromProviders, count);

    public void RouteStreamOpened()
    {
        Interlocked.Increment(ref _routeStreamsOpened);
        Interlocked.Increment(ref _routeStreamsOpen);
    }

    public void RouteStreamClosed() => Interlocked.Decrement(ref _routeStreamsOpen);

    public void RecordHandshakeFailed() => Interlocked.Increment(ref _handshakesFailed);

    public void RecordProviderRefused() => Interlocked.Increment(ref _providersRefused);

    public string ToPrometheusText()
    {
        var text = new StringBuilder(2048);
        var inv = CultureInfo.InvariantCulture;
        text.Append("# HELP peercompute_gateway_requests_total Public HTTPS requests answered, by status code.\n");
        text.Append("# TYPE peercompute_gateway_requests_total counter\n");
        for (int status = 100; status < _responsesByStatus.Length; status++)
        {
            long count = Interlocked.Read(ref _responsesByStatus[status]);
            if (count > 0)
                text.Append(inv, $"peercompute_gateway_requests_total{{code=\"{status}\"}} {count}\n");
        }
        Counter(text, "peercompute_gateway_rate_limited_total", "Requests refused with 429 by the per-client rate limit.", RateLimited);
        Counter(text, "peercompute_gateway_concurrency_limited_total", "Requests refused with 429 because their client had too many open.", Interlocked.Read(ref _concurrencyLimited));
        Counter(text, "peercompute_gateway_tunnel_busy_total", "Requests refused with 503 because their provider's tunnel carried all the streams it may.", Interlocked.Read(ref _tunnelBusy));
        Counter(text, "peercompute_gateway_tunnel_bytes_sent_total", "Bytes sent to providers through tunnels (request bodies and headers).", Interlocked.Read(ref _bytesToProviders));
        Counter(text, "peercompute_gateway_tunnel_bytes_received_total", "Bytes received from providers through tunnels (responses).", Interlocked.Read(ref _bytesFromProviders));
        Counter(text, "peercompute_gateway_route_streams_total", "Tunnel streams opened for public requests.", Interlocked.Read(ref _routeStreamsOpened));
        Gauge(text, "peercompute_gateway_route_streams_open", "Tunnel streams open now.", Interlocked.Read(ref _routeStreamsOpen));
        Gauge(text, "peercompute_gateway_active_tunnels", "Providers connected now.", ActiveTunnels?.Invoke() ?? 0);
        Gauge(text, "peercompute_gateway_rate_limit_buckets", "Rate-limit buckets held now (client and deployment pairs).", RateLimitBuckets?.Invoke() ?? 0);
        if (RelayReservations is { } reservations)
            Gauge(text, "peercompute_gateway_relay_reservations", "Providers holding a reservation on the gateway's relay now.", reservations());
        if (RelayCircuits is { } circuits)
            Gauge(text, "peercompute_gateway_relay_circuits", "Relayed connections open now.", circuits());
        if (DnsQueries is { } dnsQueries)
            Counter(text, "peercompute_gateway_dns_queries_total", "Queries received by the gateway's DNS server (UDP and TCP).", dnsQueries());
        if (DnsRateLimited is { } dnsLimited)
            Counter(text, "peercompute_gateway_dns_rate_limited_total", "DNS queries dropped by the per-source rate limit.", dnsLimited());
        if (AcmeFailures is { } acmeFailures)
            Gauge(text, "peercompute_gateway_acme_consecutive_failures", "Failed ACME certificate orders since the last certificate (0: the last order succeeded).", acmeFailures());
        var gc = GC.GetGCMemoryInfo();
        Gauge(text, "peercompute_gateway_managed_heap_bytes", "Managed heap size after the last garbage collection.", gc.HeapSizeBytes);
        Gauge(text, "peercompute_gateway_managed_committed_bytes", "Memory committed for the managed heap.", gc.TotalCommittedBytes);
        Counter(text, "peercompute_gateway_tunnel_handshakes_failed_total", "Tunnel connections dropped before authentication (bad TLS, garbage, timeouts).", Interlocked.Read(ref _handshakesFailed));
        Counter(text, "peercompute_gateway_providers_refused_total", "Authenticated providers refused (untrusted, tag taken, busy).", Interlocked.Read(ref _providersRefused));
        return text.ToString();
    }

    private static void Counter(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    private static void Gauge(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
}
