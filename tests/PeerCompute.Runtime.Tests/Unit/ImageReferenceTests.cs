using PeerCompute.Runtime.Images;

namespace PeerCompute.Runtime.Tests.Unit;

public sealed class ImageReferenceTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Test]
    [Arguments("busybox", null, "busybox", null, null)]
    [Arguments("library/busybox:1.36", null, "library/busybox", "1.36", null)]
    [Arguments("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000", "team/app", "v2", null)]
    [Arguments("localhost/app", "localhost", "app", null, null)]
    [Arguments("registry.example/app@" + Digest, "registry.example", "app", null, Digest)]
    [Arguments("registry.example/app:v1@" + Digest, "registry.example", "app", "v1", Digest)]
    [Arguments("my-org/my_app__x.y", null, "my-org/my_app__x.y", null, null)]
    [Arguments("[::1]:5000/app:v1", "[::1]:5000", "app", "v1", null)]
    [Arguments("[fd00::1]/team/app", "[fd00::1]", "team/app", null, null)]
    public async Task Valid_references_are_split_into_their_parts(string text, string? registry, string path, string? tag, string? digest)
    {
        var reference = ImageReference.Parse(text);
        await Assert.That(reference.Registry).IsEqualTo(registry);
        await Assert.That(reference.Path).IsEqualTo(path);
        await Assert.That(reference.Tag).IsEqualTo(tag);
        await Assert.That(reference.Digest).IsEqualTo(digest);
        await Assert.That(reference.ToString()).IsEqualTo(text);
    }

    [Test]
    public async Task A_pinned_reference_pulls_and_resolves_by_digest()
    {
        var reference = ImageReference.Parse("127.0.0.1:5000/app:v1@" + Digest);
        await Assert.That(reference.PullTag).IsEqualTo(Digest);
        await Assert.That(reference.LocalName).IsEqualTo("127.0.0.1:5000/app@" + Digest);
        await Assert.That(ImageReference.Parse("app").LocalName).IsEqualTo("app:latest");
    }

    [Test]
    [Arguments("")]
    [Arguments("Busybox")]
    [Arguments("busybox:")]
    [Arguments("busybox:-bad")]
    [Arguments("busybox@sha256:abc")]
    [Arguments("busybox@md5:0123456789abcdef0123456789abcdef")]
    [Arguments("registry:99999/app")]
    [Arguments("registry:+5/app")]
    [Arguments("[::1/app")]
    [Arguments("[127.0.0.1]:5000/app")]
    [Arguments("[fe80::1%eth0]:5000/app")]
    [Arguments("[::1]x/app")]
    [Arguments("app//x")]
    [Arguments("app/-x")]
    [Arguments("app x")]
    [Arguments("app/x.")]
    [Arguments("--privileged")]
    public async Task Malformed_references_are_refused(string text)
    {
        await Assert.That(ImageReference.TryParse(text, out _, out string? error)).IsFalse();
        await Assert.That(error).StartsWith("image:");
    }
}
