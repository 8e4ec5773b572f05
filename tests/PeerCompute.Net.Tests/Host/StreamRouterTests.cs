using Microsoft.Extensions.Logging;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Host;

namespace PeerCompute.Net.Tests.Host;

public class StreamRouterTests
{
    private const string Protocol = "/test/throws/1.0.0";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Test]
    public async Task A_handler_that_throws_is_logged_and_its_stream_reset()
    {
        var logger = new RecordingLogger();
        await using var a = new Libp2pHost(PeerIdentity.Generate(), logger: logger);
        a.SetStreamHandler(Protocol, (_, _) => throw new InvalidOperationException("handler bug"));
        var address = (await a.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"))).WithPeerId(a.PeerId);
        await using var b = new Libp2pHost(PeerIdentity.Generate());

        // The reset may overtake the end of the negotiation (then opening fails) or not (then the first read does).
        await Assert.That(async () =>
        {
            await using var stream = await b.NewStreamAsync(address, Protocol).WaitAsync(Guard);
            await stream.Stream.ReadAsync(new byte[1]).AsTask().WaitAsync(Guard);
        }).Throws<IOException>();

        var entry = await logger.First.Task.WaitAsync(Guard);
        await Assert.That(entry.Level).IsEqualTo(LogLevel.Warning);
        await Assert.That(entry.Exception).IsTypeOf<InvalidOperationException>();
        await Assert.That(entry.Message).Contains(Protocol);
        await Assert.That(entry.Message).Contains("handler bug");
    }

    private sealed record Entry(LogLevel Level, string Message, Exception? Exception);

    private sealed class RecordingLogger : ILogger
    {
        public TaskCompletionSource<Entry> First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        /// <summary>Only entries about the test's protocol: identify on the same connection may log too.</summary>
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            if (message.Contains(Protocol, StringComparison.Ordinal))
                First.TrySetResult(new Entry(logLevel, message, exception));
        }
    }
}
