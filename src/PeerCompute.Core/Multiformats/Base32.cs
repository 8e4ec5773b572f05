namespace PeerCompute.Core.Multiformats;

/// <summary>RFC 4648 base32, lower case, no padding: the multibase 'b' encoding used by CIDs.</summary>
internal static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string EncodeLower(ReadOnlySpan<byte> data)
    {
        var chars = new char[(data.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, o = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[o++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }
        if (bits > 0)
            chars[o++] = Alphabet[(buffer << (5 - bits)) & 31];
        return new string(chars, 0, o);
    }

    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] result)
    {
        result = [];
        if (text.Length > 2048)
            return false;
        var bytes = new byte[text.Length * 5 / 8];
        int buffer = 0, bits = 0, o = 0;
        foreach (char raw in text)
        {
            // ASCII case folding only: char.ToLowerInvariant would also take the Kelvin sign (U+212A) for 'k'.
            char c = raw is >= 'A' and <= 'Z' ? (char)(raw | 0x20) : raw;
            int v = c is >= 'a' and <= 'z' ? c - 'a' : c is >= '2' and <= '7' ? c - '2' + 26 : -1;
            if (v < 0)
                return false;
            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bytes[o++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }
        // Leftover bits must be zero padding, and fewer than 5.
        if (bits >= 5 || (buffer & ((1 << bits) - 1)) != 0)
            return false;
        result = bytes;
        return true;
    }
}
