using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace PeerCompute.Cli;

/// <summary>
/// <c>--json</c> output as a person and a script read it: "can't" and "café" as they are, not "can\u0027t". Only what
/// JSON itself needs is escaped (quotes, backslashes, control characters); the output is never embedded in HTML.
/// </summary>
internal static class CliJson
{
    private static readonly Dictionary<JsonSerializerOptions, JsonSerializerOptions> Relaxed = new(ReferenceEqualityComparer.Instance);

    /// <summary>Writes <paramref name="value"/> on one line of stdout, with <paramref name="typeInfo"/>'s (source-generated) resolver but the relaxed encoder.</summary>
    public static void Write<T>(T value, JsonTypeInfo<T> typeInfo) => Console.Out.WriteLine(Serialize(value, typeInfo));

    public static string Serialize<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        JsonSerializerOptions options;
        lock (Relaxed)
        {
            if (!Relaxed.TryGetValue(typeInfo.Options, out options!))
                Relaxed[typeInfo.Options] = options = new JsonSerializerOptions(typeInfo.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        }
        return JsonSerializer.Serialize(value, (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)));
    }
}
