namespace PeerCompute.Fuzz;

/// <summary>
/// A parser's contract was broken: a foreign exception type, a round trip that does not hold, a result that
/// breaks an invariant. Thrown by the targets so AFL records the input as a crash.
/// </summary>
public sealed class ContractViolationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One fuzz target: feeds bytes to one parser (or one layer) and checks its contract. Bad input may only fail in
/// the layer's own way; everything else (IndexOutOfRange, NullReference, InvalidCast, overflow, a hang) escapes as
/// an exception, which AFL records as a crash and the replay tests report.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>Inputs longer than this are cut: the parsers bound their own inputs far below it.</summary>
    public const int MaxInputLength = 64 * 1024;

    public abstract string Name { get; }

    /// <summary>What the target covers, for <c>list</c>.</summary>
    public abstract string Description { get; }

    /// <summary>Runs one input; returns normally when the contract held.</summary>
    public abstract void Run(ReadOnlySpan<byte> input);

    /// <summary>Valid and near-valid inputs made with the real encoders (written to the corpus by <c>seed</c>).</summary>
    public abstract IEnumerable<(string Name, byte[] Bytes)> Seeds();

    protected static void Check([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(false)] bool condition, string what)
    {
        if (!condition)
            throw new ContractViolationException(what);
    }

    protected static void Fail(string what, Exception? inner = null) => throw new ContractViolationException(what, inner);

    /// <summary>Runs async code to completion; a run that does not finish in time is a hang (a crash for us).</summary>
    protected static T Await<T>(Func<CancellationToken, Task<T>> run, int timeoutMs = 4000)
    {
        using var cts = new CancellationTokenSource();
        var task = run(cts.Token);
        try
        {
            task.Wait(timeoutMs);
        }
        catch (AggregateException)
        {
            // Rethrown below as the task's own exception.
        }
        if (!task.IsCompleted)
        {
            cts.Cancel();
            throw new ContractViolationException($"hang: the operation did not finish within {timeoutMs} ms");
        }
        return task.GetAwaiter().GetResult();
    }
}

public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new Targets.FrameTarget(),
        new Targets.JsonMessagesTarget(),
        new Targets.MultistreamTarget(),
        new Targets.NoisePayloadTarget(),
        new Targets.NoiseHandshakeTarget(),
        new Targets.YamuxTarget(),
        new Targets.MultiaddrTarget(),
        new Targets.EncodingsTarget(),
        new Targets.PeerIdTarget(),
        new Targets.MdnsTarget(),
        new Targets.TunnelTarget(),
        new Targets.TrustStoreTarget(),
        new Targets.DeploymentRecordTarget(),
        new Targets.ImageGrantsTarget(),
        new Targets.ProviderConfigTarget(),
        new Targets.GatewayBindingsTarget(),
        new Targets.IdentifyTarget(),
        new Targets.HostnameTarget(),
        new Targets.RelayHopTarget(),
        new Targets.RelayStopTarget(),
        new Targets.RelayVoucherTarget(),
        new Targets.HolePunchTarget(),
        new Targets.InviteTarget(),
        new Targets.DnsServerTarget(),
        new Targets.TlsClientHelloTarget(),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
