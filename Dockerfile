# smstream (engine, notifier, simulator, db migrate) as one image.
#   docker build -t smstream .       docker run --rm smstream --help
# Build stage: restore first (cached layer while only sources change), then publish the CLI.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# global.json is left out on purpose: it pins the SDK feature band of the dev machines, the image brings its own 10.0 SDK.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ src/
RUN dotnet restore src/SmartMaintenance.Streams.Cli/SmartMaintenance.Streams.Cli.csproj
RUN dotnet publish src/SmartMaintenance.Streams.Cli/SmartMaintenance.Streams.Cli.csproj -c Release --no-restore -o /app --nologo

# Runtime stage: ASP.NET Core runtime (the /metrics and /health endpoints use Kestrel); librdkafka needs libsasl2.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsasl2-2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# Inside a container the endpoints must be reachable from Prometheus: listen on all interfaces.
ENV SMSTREAM_HTTP__LISTEN=0.0.0.0:9464 \
    DOTNET_gcServer=0
EXPOSE 9464 9465
# The image's built-in unprivileged user (UID 1654); nothing here needs root.
USER $APP_UID
# Ready = Kafka reachable, partitions assigned, database reachable, not stuck (docs/observability.md).
# bash's /dev/tcp: the runtime image has no curl or wget.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
  CMD ["bash", "-c", "port=${SMSTREAM_HTTP__LISTEN##*:}; exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "smstream.dll"]
CMD ["run"]
