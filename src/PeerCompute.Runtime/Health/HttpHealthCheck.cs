using System.Net;
using PeerCompute.Runtime.Readiness;

namespace PeerCompute.Runtime.Health;

/// <summary>
/// Ready (or healthy) when a GET of the path at the container's own address answers 2xx or 3xx. Redirects are not
/// followed (a 3xx is an answer), no proxy is used, and every request has a connection of its own, closed after it.
/// </summary>
public sealed class HttpHealthCheck(string path) : IReadinessCheck
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.Zero,
    })
    {
        // The caller's token bounds each attempt.
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    public string Path => path;

    private string Shown => path.Length > 100 ? path[..100] + "…" : path;

    /// <summary>Why the last attempt failed ("GET /health answered 500 Internal Server Error"); null after a success.</summary>
    public string? LastFailure { get; private set; }

    public string Describe(int port) => $"GET {path} on port {port}";

    public async ValueTask<bool> AnswersAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{endpoint}{path}"));
        request.Headers.ConnectionClose = true;
        try
        {
            using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            int code = (int)response.StatusCode;
            if (code is >= 200 and < 400)
            {
                LastFailure = null;
                return true;
            }
            // The reason phrase is the container's text: bounded, since it goes into every status.
            string reason = response.ReasonPhrase is { Length: > 0 } phrase ? " " + (phrase.Length > 80 ? phrase[..80] + "…" : phrase) : "";
            LastFailure = $"GET {Shown} answered {code}{reason}";
            return false;
        }
        catch (HttpRequestException ex)
        {
            LastFailure = $"GET {Shown} on port {endpoint.Port}: {ex.Message}";
            return false;
        }
    }
}
