using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using PeerCompute.Runtime.Logs;

namespace PeerCompute.Runtime.Docker;

/// <summary>Reads a container's log as separate stdout/stderr lines from the engine's multiplexed stream.</summary>
internal static class ContainerLogReader
{
    public static async IAsyncEnumerable<ContainerLogLine> ReadAsync(
        IDockerClient docker, DockerErrorTranslator errors, string containerId, LogOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = options.Stdout,
            ShowStderr = options.Stderr,
            Timestamps = true,
            Follow = options.Follow,
            Tail = options.Tail is { } tail ? Math.Max(0, tail).ToString(CultureInfo.InvariantCulture) : "all",
            Since = options.Since is { } since ? LogLineParser.FormatSince(since) : null,
        };
        using MultiplexedStream stream = await errors.RunAsync(
            "reading the container log",
            () => docker.Containers.GetContainerLogsAsync(containerId, parameters, cancellationToken),
            cancellationToken).ConfigureAwait(false);

        var stdout = new LogLineSplitter();
        var stderr = new LogLineSplitter();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                MultiplexedStream.ReadResult read;
                try
                {
                    read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (errors.Translate("reading the container log", ex, cancellationToken) is { } translated)
                {
                    throw translated;
                }
                if (read.EOF)
                    break;
                var (splitter, kind) = read.Target == MultiplexedStream.TargetStream.StandardError
                    ? (stderr, LogStream.Stderr)
                    : (stdout, LogStream.Stdout);
                splitter.Append(buffer.AsSpan(0, read.Count));
                while (splitter.TryTakeLine(out string line))
                    yield return LogLineParser.Parse(line, kind);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (stdout.TryTakeRest(out string restOut))
            yield return LogLineParser.Parse(restOut, LogStream.Stdout);
        if (stderr.TryTakeRest(out string restErr))
            yield return LogLineParser.Parse(restErr, LogStream.Stderr);
    }
}
