namespace PeerCompute.Testing;

/// <summary>Lowercase hex, as test vectors are written.</summary>
public static class Hex
{
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
}
