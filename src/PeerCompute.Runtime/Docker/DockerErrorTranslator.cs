using System.Net;
using System.Net.Sockets;
using Docker.DotNet;

namespace PeerCompute.Runtime.Docker;

/// <summary>
/// Runs engine calls and turns transport and API failures into <see cref="RuntimeException"/>s
/// that say what was being done and why it failed.
/// </summary>
internal sealed class DockerErrorTranslator
{
    private readonly Uri _endpoint;

    public DockerErrorTranslator(Uri endpoint) => _endpoint = endpoint;

    public async Task<T> RunAsync<T>(string doing, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (Translate(doing, ex, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public async Task RunAsync(string doing, Func<Task> call, CancellationToken cancellationToken)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (Translate(doing, ex, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>Null leaves the exception as it is (the caller's own cancellation, or already translated).</summary>
    public RuntimeException? Translate(string doing, Exception ex, CancellationToken cancellationToken)
    {
        switch (ex)
        {
            case RuntimeException:
                return null;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                return null;
            case DockerApiException api:
                return new RuntimeException(
                    api.StatusCode == HttpStatusCode.NotFound ? RuntimeErrorCode.NotFound : RuntimeErrorCode.DockerError,
                    $"{doing}: the Docker engine answered {(int)api.StatusCode}: {EngineMessage(api.ResponseBody)}", ex);
            case HttpRequestException or SocketException or IOException:
                return Unavailable(doing, ex);
            case OperationCanceledException or TimeoutException:
                return new RuntimeException(RuntimeErrorCode.DockerUnavailable, $"{doing}: the Docker engine at {_endpoint} did not answer in time", ex);
            case AggregateException { InnerExceptions.Count: 1 } aggregate:
                // The tcp:// transport wraps a refused connection this way; judge what is inside.
                return Translate(doing, aggregate.InnerExceptions[0], cancellationToken);
            default:
                return null;
        }
    }

    public RuntimeException Unavailable(string doing, Exception ex)
    {
        Exception root = ex;
        while (root.InnerException is not null && root is not SocketException)
            root = root.InnerException;
        return new RuntimeException(RuntimeErrorCode.DockerUnavailable, $"{doing}: the Docker engine at {_endpoint} is not reachable ({root.Message})", ex);
    }

    /// <summary>The engine wraps its reason as {"message":"..."}; show the reason alone.</summary>
    internal static string EngineMessage(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return "(no reason given)";
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("message", out var message)
                && message.ValueKind == System.Text.Json.JsonValueKind.String)
                return message.GetString()!.Trim();
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return body.Trim();
    }
}
