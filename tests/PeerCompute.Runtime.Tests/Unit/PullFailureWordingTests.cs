using PeerCompute.Runtime.Docker;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>The engine's words for a failed pull, sorted into the few reasons a requester is told (the words themselves go to the log only).</summary>
internal sealed class PullFailureWordingTests
{
    [Test]
    [Arguments("manifest for 127.0.0.1:5000/app:v9 not found: manifest unknown: manifest unknown", ImagePuller.PullFailureKind.NotFound)]
    [Arguments("pull access denied for nosuch/image, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", ImagePuller.PullFailureKind.NotFound)]
    [Arguments("Head \"http://127.0.0.1:5000/v2/app/manifests/v1\": no basic auth credentials", ImagePuller.PullFailureKind.Unauthorized)]
    [Arguments("unauthorized: authentication required", ImagePuller.PullFailureKind.Unauthorized)]
    [Arguments("Get \"http://127.0.0.1:9/v2/\": dial tcp 127.0.0.1:9: connect: connection refused", ImagePuller.PullFailureKind.Unreachable)]
    [Arguments("Get \"https://registry.example/v2/\": dial tcp: lookup registry.example: no such host", ImagePuller.PullFailureKind.Unreachable)]
    [Arguments("Get \"https://10.9.9.9/v2/\": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)", ImagePuller.PullFailureKind.Unreachable)]
    [Arguments("Get \"http://127.0.0.1:4000/v2/\": net/http: HTTP/1.x transport connection broken: malformed HTTP status code \"banner\"", ImagePuller.PullFailureKind.Other)]
    [Arguments("failed to register layer: no space left on device", ImagePuller.PullFailureKind.Other)]
    public async Task Engine_messages_are_sorted_into_plain_reasons(string reason, ImagePuller.PullFailureKind kind)
        => await Assert.That(ImagePuller.ClassifyPullFailure(reason)).IsEqualTo(kind);
}
