using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Protocol;

/// <summary>
/// Request signatures: Ed25519 over <c>domain ‖ frame</c>, where the frame is the request exactly as sent
/// (type byte, length, JSON), so nothing is re-serialised and the signature is bound to the message type.
/// Timestamp and nonce live in the signed JSON.
/// </summary>
public static class RequestSigning
{
    public static ReadOnlySpan<byte> Domain => "peercompute/1.0.0 request\n"u8;

    public static RequestSignature Sign(PeerIdentity identity, ReadOnlySpan<byte> frame)
    {
        var message = Concat(frame);
        try
        {
            return new RequestSignature(identity.PeerId.ToString(), Convert.ToBase64String(identity.Sign(message)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message.Array!);
        }
    }

    public static bool Verify(PeerId signer, ReadOnlySpan<byte> frame, string signatureBase64)
    {
        Span<byte> signature = stackalloc byte[PeerIdentity.SignatureLength];
        if (!Convert.TryFromBase64String(signatureBase64, signature, out int written) || written != PeerIdentity.SignatureLength)
            return false;
        var message = Concat(frame);
        try
        {
            return PeerIdentity.Verify(signer, message, signature);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message.Array!);
        }
    }

    public static string NewNonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    public static long Now(TimeProvider? clock = null) => (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds();

    private static ArraySegment<byte> Concat(ReadOnlySpan<byte> frame)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Domain.Length + frame.Length);
        Domain.CopyTo(buffer);
        frame.CopyTo(buffer.AsSpan(Domain.Length));
        return new ArraySegment<byte>(buffer, 0, Domain.Length + frame.Length);
    }
}
