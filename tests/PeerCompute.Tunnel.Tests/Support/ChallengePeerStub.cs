using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>Stands in for a peer gateway's plain-HTTP port: records what it is asked and answers what the test says.</summary>
internal sealed class ChallengePeerStub : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ChallengePeerStub(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>The answer body for a token; null: 404.</summary>
    public Func<string, string?> Answer { get; set; } = _ => null;

    /// <summary>Every request: its path and the value of the relay marker header (null when absent).</summary>
    public ConcurrentQueue<(string Path, string? Marker)> Requests { get; } = new();

    public static async Task<ChallengePeerStub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var stub = new ChallengePeerStub(app);
        app.Run(async context =>
        {
            string path = context.Request.Path.Value ?? "";
            stub.Requests.Enqueue((path, context.Request.Headers.TryGetValue("PeerCompute-Challenge-Relay", out var marker) ? marker.ToString() : null));
            const string prefix = "/.well-known/acme-challenge/";
            if (path.StartsWith(prefix, StringComparison.Ordinal) && stub.Answer(path[prefix.Length..]) is { } answer)
            {
                await context.Response.WriteAsync(answer);
                return;
            }
            context.Response.StatusCode = 404;
        });
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        stub.Url = new Uri(address);
        return stub;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
