namespace PeerCompute.Runtime.Engine;

/// <summary>
/// A network the runtime asks for: a bridge named <see cref="Name"/> (so the firewall can name it too), containers on
/// it cannot reach each other unless <see cref="InterContainer"/> (an app's own network), and nothing outside the
/// runtime attaches to it.
/// </summary>
internal sealed record NetworkDefinition(string Name, IReadOnlyDictionary<string, string> Labels, bool InterContainer = false);

/// <summary>A network as the engine reports it.</summary>
internal sealed record NetworkFacts(string Name, bool IsBridge, bool InterContainerTrafficOff);
