using System.Net;
using PeerCompute.Core.Access;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Protocol;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

/// <summary>
/// Private and basic URLs through the real gateway: every refusal is answered by the gateway, and the upstream's request
/// counter proves nothing reached the container.
/// </summary>
[ParallelLimiter<ProcessTestsLimit>]
public class AccessControlTests
{
    private const string User = "maya";
    private const string Password = "correct horse battery staple";

    private sealed class Setup : IAsyncDisposable
    {
        public required TestPki Pki { get; init; }
        public required GatewayProcess Gateway { get; init; }
        public required UpstreamServer Open { get; init; }
        public required UpstreamServer Private { get; init; }
        public required UpstreamServer Basic { get; init; }
        public required TestProvider Provider { get; init; }
        public required PeerIdentity Owner { get; init; }

        public string Host(string name) => $"{Provider.Label(name)}.{Gateway.Domain}";

        public string Token(string name, TimeSpan lifetime, PeerIdentity? signer = null) =>
            UrlToken.Create(signer ?? Owner, Host(name), DateTimeOffset.UtcNow + lifetime);

        public static async Task<Setup> StartAsync()
        {
            var pki = TestPki.Create();
            var gateway = await GatewayProcess.StartAsync(pki, "--open");
            var open = await UpstreamServer.StartAsync("open");
            var @private = await UpstreamServer.StartAsync("private");
            var basic = await UpstreamServer.StartAsync("basic");
            var owner = PeerIdentity.Generate();
            var access = new Dictionary<string, RouteAccess>
            {
                ["priv"] = new(AccessMode.Private, owner.PeerId),
                ["basic"] = new(AccessMode.Basic, BasicUser: User, BasicPasswordHash: PasswordHash.Create(Password, PasswordHash.MinIterations)),
            };
            var provider = TestProvider.For(gateway, new() { ["open"] = open.EndPoint, ["priv"] = @private.EndPoint, ["basic"] = basic.EndPoint }, access: access).Start();
            await provider.WaitReadyAsync();
            return new Setup { Pki = pki, Gateway = gateway, Open = open, Private = @private, Basic = basic, Provider = provider, Owner = owner };
        }

        public async ValueTask DisposeAsync()
        {
            await Provider.DisposeAsync();
            await Open.DisposeAsync();
            await Private.DisposeAsync();
            await Basic.DisposeAsync();
            await Gateway.DisposeAsync();
            Owner.Dispose();
            Pki.Dispose();
        }
    }

    [Test]
    public async Task A_private_url_refuses_every_request_without_a_valid_link_from_its_owner_and_the_container_sees_none()
    {
        await using var setup = await Setup.StartAsync();
        using var stranger = PeerIdentity.Generate();
        string label = setup.Provider.Label("priv");
        string valid = setup.Token("priv", TimeSpan.FromHours(1));
        string forged = valid[..^2] + (valid[^2] == 'A' ? "B" : "A") + valid[^1];
        var cases = new (string What, string Query, string? Cookie, int Status)[]
        {
            ("no token", "", null, 401),
            ("garbage", "?peercompute-token=hello", null, 403),
            ("bad signature", "?peercompute-token=" + forged, null, 403),
            ("another owner's token", "?peercompute-token=" + setup.Token("priv", TimeSpan.FromHours(1), stranger), null, 403),
            ("expired token", "?peercompute-token=" + setup.Token("priv", TimeSpan.FromSeconds(-5)), null, 403),
            ("token for another hostname", "?peercompute-token=" + setup.Token("open", TimeSpan.FromHours(1)), null, 403),
            ("expired cookie", "", UrlToken.CookieName + "=" + setup.Token("priv", TimeSpan.FromSeconds(-5)), 403),
            ("another owner's cookie", "", UrlToken.CookieName + "=" + setup.Token("priv", TimeSpan.FromHours(1), stranger), 403),
        };

        foreach (var (what, query, cookie, status) in cases)
        {
            string[] extra = cookie is null ? [] : ["-H", "Cookie: " + cookie];
            var result = await Curl.GetAsync(setup.Gateway, label, "/" + query, extra);
            await Assert.That(result.Status).IsEqualTo(status).Because($"{what}: {result.Body} {result.Error}");
        }
        var open = await Curl.GetAsync(setup.Gateway, setup.Provider.Label("open"), "/");

        await Assert.That(setup.Private.Requests).IsEqualTo(0);
        await Assert.That(open.Status).IsEqualTo(200);
        await Assert.That(setup.Open.Requests).IsEqualTo(1);
    }

    [Test]
    public async Task A_valid_link_becomes_a_host_only_secure_httponly_cookie_and_neither_reaches_the_container()
    {
        await using var setup = await Setup.StartAsync();
        string label = setup.Provider.Label("priv");
        string token = setup.Token("priv", TimeSpan.FromHours(2));

        var first = await Curl.GetAsync(setup.Gateway, label, $"/headers?a=1&peercompute-token={token}&b=2");
        string setCookie = first.Headers.GetValueOrDefault("set-cookie", "");
        var attributes = setCookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).ToList();
        int maxAge = int.Parse(attributes.Single(a => a.StartsWith("Max-Age=", StringComparison.Ordinal))["Max-Age=".Length..]);
        var second = await Curl.GetAsync(setup.Gateway, label, "/headers?a=1&b=2", "-H", $"Cookie: theme=dark; {UrlToken.CookieName}={token}; lang=en");

        await Assert.That(first.Status).IsEqualTo(303);
        await Assert.That(first.Headers["location"]).IsEqualTo("/headers?a=1&b=2");
        await Assert.That(setCookie).StartsWith($"{UrlToken.CookieName}={token};");
        await Assert.That(attributes).Contains("Secure");
        await Assert.That(attributes).Contains("HttpOnly");
        await Assert.That(attributes).Contains("SameSite=Lax");
        await Assert.That(attributes).Contains("Path=/");
        await Assert.That(attributes.Any(a => a.StartsWith("Domain", StringComparison.OrdinalIgnoreCase))).IsFalse();
        await Assert.That(maxAge).IsBetween(2 * 3600 - 60, 2 * 3600);
        await Assert.That(second.Status).IsEqualTo(200).Because(second.Body);
        await Assert.That(second.Body).Contains("cookie: theme=dark; lang=en\n");
        await Assert.That(second.Body).DoesNotContain("peercompute");
        // Only the cookie-carrying request got through; the link's visit was answered by the gateway.
        await Assert.That(setup.Private.Requests).IsEqualTo(1);
    }

    [Test]
    public async Task A_basic_url_needs_the_right_user_and_password_and_the_container_never_sees_the_authorization_header()
    {
        await using var setup = await Setup.StartAsync();
        string label = setup.Provider.Label("basic");

        var none = await Curl.GetAsync(setup.Gateway, label, "/headers");
        var wrongPassword = await Curl.GetAsync(setup.Gateway, label, "/headers", "-u", $"{User}:not the password");
        var wrongUser = await Curl.GetAsync(setup.Gateway, label, "/headers", "-u", $"sam:{Password}");
        var garbage = await Curl.GetAsync(setup.Gateway, label, "/headers", "-H", "Authorization: Basic !!!");
        int before = setup.Basic.Requests;
        var right = await Curl.GetAsync(setup.Gateway, label, "/headers", "-u", $"{User}:{Password}");
        var again = await Curl.GetAsync(setup.Gateway, label, "/headers", "-u", $"{User}:{Password}");

        await Assert.That(none.Status).IsEqualTo(401);
        await Assert.That(none.Headers["www-authenticate"]).StartsWith("Basic realm=");
        await Assert.That(wrongPassword.Status).IsEqualTo(401);
        await Assert.That(wrongUser.Status).IsEqualTo(401);
        await Assert.That(garbage.Status).IsEqualTo(401);
        await Assert.That(before).IsEqualTo(0);
        await Assert.That(right.Status).IsEqualTo(200).Because(right.Body);
        await Assert.That(right.Body.Contains("authorization", StringComparison.OrdinalIgnoreCase)).IsFalse();
        await Assert.That(again.Status).IsEqualTo(200);
        await Assert.That(setup.Basic.Requests).IsEqualTo(2);
    }

    [Test]
    public async Task Chromium_opens_a_private_link_and_then_the_bare_url_by_its_cookie()
    {
        if (!File.Exists(HeadlessChromium.Executable))
            throw new InvalidOperationException($"{HeadlessChromium.Executable} is missing: apt-get install -y chromium");
        await using var setup = await Setup.StartAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var browser = await HeadlessChromium.StartAsync(guard.Token);
        string url = setup.Gateway.UrlFor(setup.Provider.Label("priv"));

        await browser.NavigateAsync(url, guard.Token);
        string? refused = await browser.EvaluateAsync("document.body.innerText", guard.Token);
        int reachedBeforeTheLink = setup.Private.Requests;
        await browser.NavigateAsync(url + "?peercompute-token=" + setup.Token("priv", TimeSpan.FromMinutes(30)), guard.Token);
        string? viaLink = await browser.EvaluateAsync("document.getElementById('marker').textContent", guard.Token);
        string? address = await browser.EvaluateAsync("location.href", guard.Token);
        await browser.NavigateAsync(url, guard.Token);
        string? viaCookie = await browser.EvaluateAsync("document.getElementById('marker').textContent", guard.Token);
        string? scriptCookies = await browser.EvaluateAsync("document.cookie", guard.Token);

        await Assert.That(refused).Contains("401");
        await Assert.That(viaLink).IsEqualTo(UpstreamServer.PageMarker + ": private");
        await Assert.That(address).IsEqualTo(url);
        await Assert.That(viaCookie).IsEqualTo(UpstreamServer.PageMarker + ": private");
        await Assert.That(scriptCookies).IsEqualTo("");
        await Assert.That(reachedBeforeTheLink).IsEqualTo(0);
        // The two page loads (the browser may add its own /favicon.ico by the cookie).
        await Assert.That(setup.Private.Paths.Count(p => p == "/")).IsEqualTo(2);
    }

    [Test]
    public async Task A_provider_withholds_private_routes_from_a_gateway_that_cannot_enforce_them()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var upstream = await UpstreamServer.StartAsync("old");
        using var owner = PeerIdentity.Generate();
        var access = new Dictionary<string, RouteAccess> { ["priv"] = new(AccessMode.Private, owner.PeerId) };
        // A provider limited to version 2 agrees on version 2: exactly what it does with a gateway from before access rules.
        await using var provider = TestProvider.For(gateway, new() { ["open"] = upstream.EndPoint, ["priv"] = upstream.EndPoint },
            configure: o => o with { Versions = new TunnelVersions(1, 2) }, access: access).Start();
        var status = await provider.WaitForAsync(s => s.State == TunnelState.Connected && s.Routes.Count == 2);

        var route = status.Routes[provider.Label("priv")];
        var refused = await Curl.GetAsync(gateway, provider.Label("priv"), "/");
        var open = await Curl.GetAsync(gateway, provider.Label("open"), "/");

        await Assert.That(route.Accepted).IsFalse();
        await Assert.That(route.Reason).Contains("cannot enforce private access");
        await Assert.That(status.Routes[provider.Label("open")].Accepted).IsTrue();
        await Assert.That(refused.Status).IsEqualTo(404);
        await Assert.That(open.Status).IsEqualTo(200);
        await Assert.That(upstream.Requests).IsEqualTo(1);
    }

    [Test]
    public async Task The_gateway_refuses_a_private_route_without_an_owner_rather_than_serve_it_open()
    {
        using var pki = TestPki.Create();
        await using var gateway = await GatewayProcess.StartAsync(pki, "--open");
        await using var upstream = await UpstreamServer.StartAsync("ownerless");
        var access = new Dictionary<string, RouteAccess> { ["priv"] = new(AccessMode.Private) };
        await using var provider = TestProvider.For(gateway, new() { ["priv"] = upstream.EndPoint }, access: access).Start();
        var status = await provider.WaitForAsync(s => s.State == TunnelState.Connected && s.Routes.Count == 1);

        var result = await Curl.GetAsync(gateway, provider.Label("priv"), "/");

        await Assert.That(status.Routes[provider.Label("priv")].Accepted).IsFalse();
        await Assert.That(status.Routes[provider.Label("priv")].Reason).Contains("owner");
        await Assert.That(result.Status).IsEqualTo(404);
        await Assert.That(upstream.Requests).IsEqualTo(0);
    }
}
