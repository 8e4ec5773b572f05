namespace PeerCompute.Runtime.Engine;

/// <summary>
/// A network the runtime asks for: a bridge named <see cref="Name"/> (so the firewall can name it too), containers on
/// it cannot reach each other, and nothing outside the runtime attaches to it.
/// </summary>
internal sealed record NetworkDefinition(string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>A network as the engine reports it.</summary>
internal sealed record NetworkFacts(string Name, bool IsBridge, bool InterContainerTrafficOff);
