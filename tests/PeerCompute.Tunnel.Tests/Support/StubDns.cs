using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>
/// The DNS of the world around the gateway, for pebble and the gateway's --resolver: questions under the gateway's zone
/// go to the gateway's own DNS server (the NS delegation an operator sets up); for other names it holds the records the
/// test sets (<see cref="Cnames"/>), answers A with 127.0.0.1 or the name's entry in <see cref="Addresses"/> (so pebble's
/// HTTP-01 check comes to a loopback gateway) and anything else with no records.
/// </summary>
internal sealed class StubDns : IAsyncDisposable
{
    private const ushort TypeA = 1, TypeCname = 5;
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly string _zone;
    private readonly IPEndPoint _zoneServer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public StubDns(string zone, int zoneServerPort)
    {
        _zone = zone;
        _zoneServer = new IPEndPoint(IPAddress.Loopback, zoneServerPort);
        _loop = Task.Run(LoopAsync);
    }

    public int Port => ((IPEndPoint)_socket.Client.LocalEndPoint!).Port;

    /// <summary>CNAME records by owner name (lower case).</summary>
    public ConcurrentDictionary<string, string> Cnames { get; } = new(StringComparer.Ordinal);

    /// <summary>The IPv4 address A queries get, by owner name (lower case); 127.0.0.1 for names not listed.</summary>
    public ConcurrentDictionary<string, IPAddress> Addresses { get; } = new(StringComparer.Ordinal);

    private async Task LoopAsync()
    {
        try
        {
            while (true)
            {
                var query = await _socket.ReceiveAsync(_stop.Token);
                if (!TryQuestion(query.Buffer, out string name, out ushort type, out int questionEnd))
                    continue;
                byte[] answer;
                if (name == _zone || name.EndsWith("." + _zone, StringComparison.Ordinal))
                {
                    using var upstream = new UdpClient(AddressFamily.InterNetwork);
                    await upstream.SendAsync(query.Buffer, _zoneServer, _stop.Token);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    answer = (await upstream.ReceiveAsync(timeout.Token)).Buffer;
                }
                else
                {
                    answer = Answer(query.Buffer, questionEnd, name, type);
                }
                await _socket.SendAsync(answer, query.RemoteEndPoint, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static bool TryQuestion(byte[] query, out string name, out ushort type, out int end)
    {
        name = "";
        type = 0;
        end = 0;
        var labels = new List<string>();
        int p = 12;
        while (p < query.Length && query[p] != 0)
        {
            int length = query[p];
            if (length > 63 || p + 1 + length > query.Length)
                return false;
            labels.Add(Encoding.ASCII.GetString(query, p + 1, length).ToLowerInvariant());
            p += 1 + length;
        }
        if (p + 5 > query.Length)
            return false;
        name = string.Join('.', labels);
        type = (ushort)((query[p + 1] << 8) | query[p + 2]);
        end = p + 5;
        return true;
    }

    /// <summary>The question echoed, with the CNAME (and for A, also 127.0.0.1) the stub holds for it.</summary>
    private byte[] Answer(byte[] query, int questionEnd, string name, ushort type)
    {
        var records = new List<byte[]>();
        if (Cnames.TryGetValue(name, out string? target) && type is TypeCname or TypeA)
            records.Add(Record(TypeCname, EncodeName(target)));
        if (type == TypeA)
            records.Add(Record(TypeA, Addresses.GetValueOrDefault(name, IPAddress.Loopback).GetAddressBytes()));
        var message = new List<byte>(query[..questionEnd]);
        message[2] = (byte)(0x84 | (query[2] & 0x01)); // QR, AA, RD as asked
        message[3] = 0x80; // RA, NOERROR
        message[6] = 0;
        message[7] = (byte)records.Count;
        message[8] = message[9] = message[10] = message[11] = 0;
        foreach (byte[] record in records)
            message.AddRange(record);
        return [.. message];
    }

    private static byte[] Record(ushort type, byte[] data) =>
        [0xC0, 0x0C, (byte)(type >> 8), (byte)type, 0, 1, 0, 0, 0, 60, (byte)(data.Length >> 8), (byte)data.Length, .. data];

    private static byte[] EncodeName(string name)
    {
        var bytes = new List<byte>();
        foreach (string label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop;
        _socket.Dispose();
    }
}
