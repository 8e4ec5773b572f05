using System.Globalization;
using PeerCompute.Core.Resources;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PeerCompute.Core.Compose;

public static partial class ComposeParser
{
    // A service's keys: environment, ports, volumes, depends_on, healthcheck, deploy limits.
    private sealed partial class Reader
    {
        private void ReadEnvironment(YamlNode node, string at, Dictionary<string, string> into)
        {
            if (node is YamlSequenceNode list)
            {
                foreach (var item in list.Children)
                {
                    string pair = Scalar(item, at);
                    int eq = pair.IndexOf('=');
                    if (eq < 0)
                        throw Fail(item, $"{at}: '{pair}' has no value; values are not taken from your shell, write KEY=VALUE");
                    if (eq == 0)
                        throw Fail(item, $"{at}: '{pair}' has no variable name");
                    if (!into.TryAdd(pair[..eq], pair[(eq + 1)..]))
                        throw Fail(item, $"{at}: {pair[..eq]} is set twice");
                }
                return;
            }
            foreach (var (key, value) in Entries(Mapping(node, at), at, extensions: false))
            {
                if (value is YamlScalarNode { Value: null } || value is YamlScalarNode { Tag.IsEmpty: true, Style: ScalarStyle.Plain, Value: "" or "~" or "null" })
                    throw Fail(value, $"{at}.{key} has no value; values are not taken from your shell, give one");
                into[key] = Scalar(value, $"{at}.{key}");
            }
        }

        private int? OnePort(List<int> ports, YamlNode node, string at)
        {
            var distinct = ports.Distinct().ToList();
            if (distinct.Count > 1)
                throw Fail(node, $"{at}: {distinct.Count} ports; a service answers on one port (each service gets its own URL)");
            return distinct.Count == 0 ? null : distinct[0];
        }

        private int ReadPort(YamlNode node, string at)
        {
            if (node is YamlMappingNode map)
            {
                int? target = null;
                foreach (var (key, value) in Entries(map, at))
                {
                    switch (key)
                    {
                        case "target":
                            target = PortNumber(Scalar(value, $"{at}.target"), value, $"{at}.target", allowProtocol: false);
                            break;
                        case "published":
                            // The provider picks the host port: the service's URL is how it is reached.
                            Scalar(value, $"{at}.published");
                            break;
                        case "protocol":
                            if (Scalar(value, $"{at}.protocol") != "tcp")
                                throw Fail(value, $"{at}.protocol: only tcp is supported");
                            break;
                        default:
                            throw Unsupported(map, key, at);
                    }
                }
                return target ?? throw Fail(map, $"{at}: target is missing");
            }
            string text = Scalar(node, at);
            // [[HOST_IP:]HOST:]CONTAINER[/PROTOCOL]; the host part is the provider's to choose.
            int colon = text.LastIndexOf(':');
            return PortNumber(colon < 0 ? text : text[(colon + 1)..], node, at, allowProtocol: true);
        }

        private int PortNumber(string text, YamlNode node, string at, bool allowProtocol)
        {
            string number = text;
            int slash = text.IndexOf('/');
            if (slash >= 0 && allowProtocol)
            {
                if (text[(slash + 1)..] != "tcp")
                    throw Fail(node, $"{at}: '{text}': only tcp ports are supported");
                number = text[..slash];
            }
            if (number.Contains('-'))
                throw Fail(node, $"{at}: '{text}': port ranges are not supported");
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
                throw Fail(node, $"{at}: '{text}' is not a port (1-65535)");
            return port;
        }

        private ComposeMount ReadMount(YamlNode node, string at)
        {
            int line = (int)LineOf(node);
            if (node is YamlMappingNode map)
            {
                string? source = null, target = null;
                bool readOnly = false;
                foreach (var (key, value) in Entries(map, at))
                {
                    switch (key)
                    {
                        case "type":
                            string type = Scalar(value, $"{at}.type");
                            if (type != "volume")
                                throw Fail(value, $"{at}.type: {type} mounts are not supported (only named volumes)");
                            break;
                        case "source":
                            source = Scalar(value, $"{at}.source");
                            break;
                        case "target":
                            target = Scalar(value, $"{at}.target");
                            break;
                        case "read_only":
                            readOnly = Boolean(value, $"{at}.read_only");
                            break;
                        default:
                            throw Unsupported(map, key, at);
                    }
                }
                if (source is null)
                    throw Fail(map, $"{at}: source is missing (anonymous volumes are not supported)");
                if (target is null)
                    throw Fail(map, $"{at}: target is missing");
                return Mount(source, target, readOnly, node, at, line);
            }
            string text = Scalar(node, at);
            string[] parts = text.Split(':');
            if (parts.Length == 1)
                throw Fail(node, $"{at}: '{text}': anonymous volumes are not supported; name one (NAME:{text})");
            if (parts.Length > 3)
                throw Fail(node, $"{at}: '{text}' is not NAME:/path[:ro]");
            bool ro = false;
            if (parts.Length == 3)
            {
                ro = parts[2] switch
                {
                    "ro" => true,
                    "rw" => false,
                    _ => throw Fail(node, $"{at}: '{text}': mode {parts[2]} is not supported (ro or rw)"),
                };
            }
            return Mount(parts[0], parts[1], ro, node, at, line);
        }

        private ComposeMount Mount(string source, string target, bool readOnly, YamlNode node, string at, int line)
        {
            if (source.Length == 0 || source[0] is '.' or '/' or '~' || source.Contains('/'))
                throw Fail(node, $"{at}: '{source}' is a host path; only named volumes are supported");
            if (!target.StartsWith('/') || target == "/" || target.Split('/').Contains(".."))
                throw Fail(node, $"{at}: '{target}' is not an absolute path inside the container");
            return new ComposeMount(source, target, readOnly, line);
        }

        private IEnumerable<ComposeDependency> ReadDependsOn(YamlNode node, string at)
        {
            if (node is YamlSequenceNode list)
                return list.Children.Select(item => new ComposeDependency(Scalar(item, at), DependencyCondition.Started, (int)LineOf(item))).ToList();
            var result = new List<ComposeDependency>();
            foreach (var (service, value) in Entries(Mapping(node, at), at, extensions: false))
            {
                string path = $"{at}.{service}";
                var condition = DependencyCondition.Started;
                if (value is not YamlScalarNode { Value: null or "" })
                {
                    foreach (var (key, item) in Entries(Mapping(value, path), path))
                    {
                        if (key != "condition")
                            throw Unsupported(value, key, path);
                        string text = Scalar(item, $"{path}.condition");
                        condition = text switch
                        {
                            "service_started" => DependencyCondition.Started,
                            "service_healthy" => DependencyCondition.Healthy,
                            _ => throw Fail(item, $"{path}.condition: {text} is not supported (service_started or service_healthy)"),
                        };
                    }
                }
                result.Add(new ComposeDependency(service, condition, (int)LineOf(KeyNode((YamlMappingNode)node, service))));
            }
            return result;
        }

        private ComposeHealthcheck ReadHealthcheck(YamlNode node, string at)
        {
            var map = Mapping(node, at);
            IReadOnlyList<string>? test = null;
            TimeSpan? interval = null, timeout = null, startPeriod = null;
            int? retries = null;
            bool disabled = false;
            string? httpPath = null;
            bool tcp = false;
            int testLine = 0;
            foreach (var (key, value) in Entries(map, at, extensions: false))
            {
                string path = $"{at}.{key}";
                switch (key)
                {
                    case "x-peercompute":
                        (httpPath, tcp) = ReadHealthExtension(value, path);
                        break;
                    case var other when other.StartsWith("x-", StringComparison.Ordinal):
                        break;
                    case "test":
                        testLine = (int)LineOf(value);
                        test = value is YamlSequenceNode ? Strings(value, path) : ["CMD-SHELL", Scalar(value, path)];
                        if (test is [] || (test[0] is not ("CMD" or "CMD-SHELL" or "NONE")) || (test[0] != "NONE" && test.Count < 2))
                            throw Fail(value, $"{path}: a command as a string, or a list starting with CMD, CMD-SHELL or NONE");
                        break;
                    case "interval":
                        interval = Duration(value, path);
                        break;
                    case "timeout":
                        timeout = Duration(value, path);
                        break;
                    case "start_period":
                        startPeriod = Duration(value, path);
                        break;
                    case "retries":
                        string text = Scalar(value, path);
                        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int r) || r < 1)
                            throw Fail(value, $"{path}: '{text}' is not a positive number");
                        retries = r;
                        break;
                    case "disable":
                        disabled = Boolean(value, path);
                        break;
                    default:
                        throw Unsupported(map, key, at);
                }
            }
            if (test is null && !disabled && httpPath is null && !tcp)
                throw Fail(map, $"{at}.test is missing (or give the provider's check: x-peercompute: {{health-http: /path}} or {{health-tcp: true}})");
            if (test is ["NONE", ..])
                disabled = true;
            return new ComposeHealthcheck(test ?? ["NONE"], interval, timeout, retries, startPeriod, disabled, (int)LineOf(map), httpPath, tcp, testLine);
        }

        private (string? HttpPath, bool Tcp) ReadHealthExtension(YamlNode node, string at)
        {
            string? httpPath = null;
            bool tcp = false;
            foreach (var (key, value) in Entries(Mapping(node, at), at, extensions: false))
            {
                string path = $"{at}.{key}";
                switch (key)
                {
                    case "health-http":
                        httpPath = Scalar(value, path);
                        if (!httpPath.StartsWith('/') || httpPath.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                            throw Fail(value, $"{path}: '{httpPath}' is not a path starting with '/'");
                        break;
                    case "health-tcp":
                        tcp = Boolean(value, path);
                        break;
                    default:
                        throw Unsupported(node, key, at);
                }
            }
            if (httpPath is not null && tcp)
                throw Fail(node, $"{at}: health-http or health-tcp, not both");
            return (httpPath, tcp);
        }

        private (int? Cpu, long? Memory) ReadDeploy(YamlNode node, string at)
        {
            int? cpu = null;
            long? memory = null;
            foreach (var (key, value) in Entries(Mapping(node, at), at))
            {
                if (key != "resources")
                    throw Unsupported(node, key, at);
                string resources = $"{at}.resources";
                foreach (var (rkey, rvalue) in Entries(Mapping(value, resources), resources))
                {
                    if (rkey != "limits")
                        throw Unsupported(value, rkey, resources);
                    string limits = $"{resources}.limits";
                    foreach (var (lkey, lvalue) in Entries(Mapping(rvalue, limits), limits))
                    {
                        string path = $"{limits}.{lkey}";
                        string text;
                        switch (lkey)
                        {
                            case "cpus":
                                text = Scalar(lvalue, path);
                                cpu = Quantities.TryParseMillicores(text, out int m) ? m : throw Fail(lvalue, $"{path}: '{text}' is not a CPU amount (examples: 0.5, 2)");
                                break;
                            case "memory":
                                text = Scalar(lvalue, path);
                                memory = Quantities.TryParseBytes(text, out long b) ? b : throw Fail(lvalue, $"{path}: '{text}' is not a size (examples: 256M, 1G)");
                                break;
                            default:
                                throw Unsupported(rvalue, lkey, limits);
                        }
                    }
                }
            }
            return (cpu, memory);
        }
    }
}
