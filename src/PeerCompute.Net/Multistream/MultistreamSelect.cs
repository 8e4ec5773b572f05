using System.Buffers;

namespace PeerCompute.Net.Multistream;

/// <summary>
/// multistream-select 1.0 over a byte stream, both roles. Reads are exact (never past the last message), so
/// whatever follows the negotiation stays in the stream for the next layer.
/// </summary>
internal static class MultistreamSelect
{
    /// <summary>
    /// Initiator: sends the header with the first proposal in one write (never waiting for the responder's header),
    /// then tries each protocol in order. Returns the accepted one; throws <see cref="Libp2pProtocolException"/>
    /// when the peer refuses all of them or speaks something else.
    /// </summary>
    public static async Task<string> SelectAsync(Stream stream, IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        if (protocols.Count == 0)
            throw new ArgumentException("At least one protocol is needed.", nameof(protocols));
        await stream.WriteAsync(MultistreamMessage.Encode(MultistreamMessage.Header, protocols[0]), cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        var header = await ReadMessageAsync(stream, cancellationToken).ConfigureAwait(false);
        if (header != MultistreamMessage.Header)
            throw new Libp2pProtocolException($"multistream: expected the {MultistreamMessage.Header} header, got '{Printable(header)}'");
        for (int i = 0; i < protocols.Count; i++)
        {
            if (i > 0)
            {
                await stream.WriteAsync(MultistreamMessage.Encode(protocols[i]), cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            var answer = await ReadMessageAsync(stream, cancellationToken).ConfigureAwait(false);
            if (answer == protocols[i])
                return answer;
            if (answer != MultistreamMessage.NotAvailable)
                throw new Libp2pProtocolException($"multistream: proposed '{protocols[i]}', the peer answered '{Printable(answer)}'");
        }
        throw new Libp2pProtocolException($"multistream: the peer supports none of {string.Join(", ", protocols)}");
    }

    public static Task<string> SelectAsync(Stream stream, string protocol, CancellationToken cancellationToken) =>
        SelectAsync(stream, [protocol], cancellationToken);

    /// <summary>
    /// Responder: reads the header, answers it once, then echoes the first proposal <paramref name="isSupported"/>
    /// accepts, answering <c>na</c> to the others and the list to <c>ls</c>. Returns null when the peer gives up (EOF).
    /// </summary>
    public static async Task<string?> RespondAsync(Stream stream, Func<string, bool> isSupported, Func<IEnumerable<string>> list, CancellationToken cancellationToken)
    {
        var header = await TryReadMessageAsync(stream, cancellationToken).ConfigureAwait(false);
        if (header is null)
            return null;
        if (header != MultistreamMessage.Header)
            throw new Libp2pProtocolException($"multistream: expected the {MultistreamMessage.Header} header, got '{Printable(header)}'");
        await stream.WriteAsync(MultistreamMessage.Encode(MultistreamMessage.Header), cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var proposal = await TryReadMessageAsync(stream, cancellationToken).ConfigureAwait(false);
            if (proposal is null)
                return null;
            byte[] answer;
            bool accepted = false;
            if (proposal == MultistreamMessage.List)
            {
                answer = MultistreamMessage.EncodeList(list());
            }
            else if (proposal != MultistreamMessage.Header && isSupported(proposal))
            {
                answer = MultistreamMessage.Encode(proposal);
                accepted = true;
            }
            else
            {
                answer = MultistreamMessage.Encode(MultistreamMessage.NotAvailable);
            }
            await stream.WriteAsync(answer, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (accepted)
                return proposal;
        }
    }

    public static Task<string?> RespondAsync(Stream stream, IReadOnlyCollection<string> protocols, CancellationToken cancellationToken) =>
        RespondAsync(stream, protocols.Contains, () => protocols, cancellationToken);

    internal static async Task<string> ReadMessageAsync(Stream stream, CancellationToken cancellationToken) =>
        await TryReadMessageAsync(stream, cancellationToken).ConfigureAwait(false)
        ?? throw new Libp2pProtocolException("multistream: the peer closed the connection during negotiation");

    /// <summary>Reads one message exactly (never a byte past it: what follows belongs to the next protocol); null on EOF before its first byte.</summary>
    internal static async Task<string?> TryReadMessageAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MultistreamMessage.MaxLength + 2);
        try
        {
            int have = 0;
            while (true)
            {
                var status = MultistreamMessage.TryParse(buffer.AsSpan(0, have), out string text, out _);
                if (status == OperationStatus.Done)
                    return text;
                int want = have == 0 ? 1 : MultistreamMessage.MissingBytes(buffer.AsSpan(0, have));
                int read = await stream.ReadAtLeastAsync(buffer.AsMemory(have, want), want, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (read < want)
                {
                    if (have + read == 0)
                        return null;
                    throw new Libp2pProtocolException("multistream: the peer closed the connection inside a message");
                }
                have += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Printable(string text) =>
        text.Length > 64 ? string.Concat(text.AsSpan(0, 64), "…") : text;
}
