namespace PeerCompute.Core.Multiformats;

/// <summary>base58btc (the bitcoin alphabet), used for the text form of PeerIds.</summary>
internal static class Base58
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    private static readonly sbyte[] Decode58 = BuildDecodeTable();

    private static sbyte[] BuildDecodeTable()
    {
        var table = new sbyte[128];
        Array.Fill(table, (sbyte)-1);
        for (int i = 0; i < Alphabet.Length; i++)
            table[Alphabet[i]] = (sbyte)i;
        return table;
    }

    public static string Encode(ReadOnlySpan<byte> data)
    {
        int zeros = 0;
        while (zeros < data.Length && data[zeros] == 0)
            zeros++;
        // log(256)/log(58) ~ 1.37
        int size = (data.Length - zeros) * 138 / 100 + 1;
        Span<byte> digits = size <= 256 ? stackalloc byte[size] : new byte[size];
        digits.Clear();
        int length = 0;
        for (int i = zeros; i < data.Length; i++)
        {
            int carry = data[i];
            int j = 0;
            for (int k = size - 1; (carry != 0 || j < length) && k >= 0; k--, j++)
            {
                carry += 256 * digits[k];
                digits[k] = (byte)(carry % 58);
                carry /= 58;
            }
            length = j;
        }
        int start = size - length;
        while (start < size && digits[start] == 0)
            start++;
        return string.Create(zeros + size - start, (zeros, start, digits.ToArray()), static (chars, s) =>
        {
            chars[..s.zeros].Fill('1');
            for (int i = s.start, o = s.zeros; i < s.Item3.Length; i++, o++)
                chars[o] = Alphabet[s.Item3[i]];
        });
    }

    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] result)
    {
        result = [];
        if (text.IsEmpty || text.Length > 1024)
            return false;
        int zeros = 0;
        while (zeros < text.Length && text[zeros] == '1')
            zeros++;
        int size = (text.Length - zeros) * 733 / 1000 + 1; // log(58)/log(256) ~ 0.733
        Span<byte> bytes = size <= 1024 ? stackalloc byte[size] : new byte[size];
        bytes.Clear();
        int length = 0;
        for (int i = zeros; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= 128 || Decode58[c] < 0)
                return false;
            int carry = Decode58[c];
            int j = 0;
            for (int k = size - 1; (carry != 0 || j < length) && k >= 0; k--, j++)
            {
                carry += 58 * bytes[k];
                bytes[k] = (byte)(carry & 0xFF);
                carry >>= 8;
            }
            length = j;
        }
        int start = size - length;
        while (start < size && bytes[start] == 0)
            start++;
        result = new byte[zeros + size - start];
        bytes[start..].CopyTo(result.AsSpan(zeros));
        return true;
    }
}
