using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace PeerCompute.System.Tests.Faults;

/// <summary>What one public request did: when it started (since the load began), how long it took, and how it ended.</summary>
internal readonly record struct RequestOutcome(TimeSpan Start, TimeSpan Duration, Outcome Kind, int Status);

internal enum Outcome
{
    /// <summary>200 with the page.</summary>
    Ok,
    /// <summary>An HTTP answer other than 200 (502/503 from the gateway while the provider is away).</summary>
    HttpError,
    /// <summary>Refused, reset or closed: a clean, prompt failure.</summary>
    ConnectionError,
    /// <summary>No answer within the client timeout: a hang.</summary>
    TimedOut,
}

/// <summary>
/// Many concurrent public clients hitting one URL through the gateway over real TLS (the gateway's own
/// certificate is the only one trusted), each with its own client timeout. Every outcome is kept.
/// </summary>
internal sealed class PublicLoad : IAsyncDisposable
{
    private readonly HttpClient _client;
    private readonly Uri _url;
    private readonly TimeSpan _timeout;
    private readonly ConcurrentQueue<RequestOutcome> _outcomes = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<Task> _workers = [];

    /// <param name="connectTo">Where the gateway's HTTPS port really is (the URL's host is a *.localhost name).</param>
    public PublicLoad(string url, IPEndPoint connectTo, X509Certificate2 gatewayCertificate, int clients, TimeSpan timeout)
    {
        _url = new Uri(url);
        _timeout = timeout;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = clients,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = timeout,
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(connectTo.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(connectTo, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(gatewayCertificate.RawData),
            },
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        for (int i = 0; i < clients; i++)
            _workers.Add(Task.Run(WorkAsync));
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    public IReadOnlyList<RequestOutcome> Outcomes => [.. _outcomes];

    private async Task WorkAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var start = _clock.Elapsed;
            var kind = Outcome.Ok;
            int status = 0;
            using var attempt = new CancellationTokenSource(_timeout);
            try
            {
                using var response = await _client.GetAsync(_url, HttpCompletionOption.ResponseContentRead, attempt.Token);
                status = (int)response.StatusCode;
                kind = response.StatusCode == HttpStatusCode.OK ? Outcome.Ok : Outcome.HttpError;
            }
            catch (OperationCanceledException) when (attempt.IsCancellationRequested)
            {
                kind = Outcome.TimedOut;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or SocketException)
            {
                kind = Outcome.ConnectionError;
            }
            _outcomes.Enqueue(new RequestOutcome(start, _clock.Elapsed - start, kind, status));
            // A failed client backs off a little, with jitter, as real ones do, instead of spinning on a refused
            // port, and the whole crowd does not come back in the same millisecond.
            if (kind != Outcome.Ok)
                await Task.Delay(Random.Shared.Next(100, 400));
        }
    }

    /// <summary>Waits until a request that started after <paramref name="since"/> succeeded.</summary>
    public async Task<TimeSpan> FirstSuccessAfterAsync(TimeSpan since, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        while (_clock.Elapsed < deadline)
        {
            var hit = _outcomes.Where(o => o.Kind == Outcome.Ok && o.Start >= since).Select(o => (TimeSpan?)o.Start + o.Duration).Min();
            if (hit is { } at)
                return at;
            await Task.Delay(100);
        }
        throw new TimeoutException($"no request succeeded within {timeout.TotalSeconds} s after {since.TotalSeconds:0.0} s");
    }

    public async Task StopAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_workers);
    }

    /// <summary>Counts, rate and latency of the requests that started in [from, to).</summary>
    public PhaseFigures Phase(string name, TimeSpan from, TimeSpan to)
    {
        var all = _outcomes.Where(o => o.Start >= from && o.Start < to).ToList();
        var ok = all.Where(o => o.Kind == Outcome.Ok).Select(o => o.Duration.TotalMilliseconds).Order().ToList();
        double p99 = ok.Count == 0 ? 0 : ok[Math.Min(ok.Count - 1, (int)Math.Ceiling(ok.Count * 0.99) - 1)];
        double p50 = ok.Count == 0 ? 0 : ok[ok.Count / 2];
        return new PhaseFigures(name, (to - from).TotalSeconds, all.Count, ok.Count,
            all.Count(o => o.Kind == Outcome.HttpError), all.Count(o => o.Kind == Outcome.ConnectionError), all.Count(o => o.Kind == Outcome.TimedOut),
            p50, p99, all.Count == 0 ? 0 : all.Max(o => o.Duration.TotalMilliseconds),
            string.Join(",", all.Where(o => o.Kind == Outcome.HttpError).GroupBy(o => o.Status).Select(g => $"{g.Key}x{g.Count()}")));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _client.Dispose();
        _stop.Dispose();
    }
}

internal sealed record PhaseFigures(string Name, double Seconds, int Requests, int Ok, int HttpErrors, int ConnectionErrors, int TimedOut, double P50Ms, double P99Ms, double MaxMs, string Statuses)
{
    public override string ToString() =>
        $"{Name,-22} {Seconds,5:0.0} s  {Requests,7} req  {Requests / Math.Max(Seconds, 0.001),7:0} req/s  ok {Ok,7}  http-err {HttpErrors,5} [{Statuses}]  conn-err {ConnectionErrors,5}  timeout {TimedOut,3}  p50 {P50Ms,6:0.0} ms  p99 {P99Ms,7:0.0} ms  max {MaxMs,7:0} ms";
}
