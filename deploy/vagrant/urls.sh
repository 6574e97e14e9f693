#!/usr/bin/env bash
# Prints where everything answers. Usage: urls.sh <master address>
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; fi # usage: the comment above
ADDR="${1:-192.168.50.2}"
SECRETS_DIR="${TARSD_SECRETS_DIR:-/etc/tarsd/secrets}"
cat <<TEXT

TF-TARSD is deployed (services may need a minute to turn healthy: docker service ls on the master).
  Files (APP 1, 3 replicas, any node): http://$ADDR:5001/        (also http://192.168.50.3:5001/)
      curl -X POST -F 'file=@<file>' $ADDR:5001/upload
      curl -X POST -F 'name=<file>' $ADDR:5001/download > <file>
      (deployed with TARSD_APP1_AUTH=1: add -H "Authorization: Bearer \$TOKEN" to uploads,
       TOKEN: sudo cat $SECRETS_DIR/tarsd_auth_token on the master)
  Grafana:     http://$ADDR:3000/   (admin / sudo cat $SECRETS_DIR/tarsd_grafana_admin_password)
  Prometheus:  http://$ADDR:9090/   (targets: http://$ADDR:9090/targets, alerts: http://$ADDR:9090/alerts)
  InfluxDB vms (APP 3): http://$ADDR:8086/   InfluxDB containers (APP 2): http://$ADDR:8087/
      (admin / sudo cat $SECRETS_DIR/tarsd_influx_password)
  Redeploy one function: vagrant ssh master -c 'sudo bash /vagrant/deploy/redeploy upload'
TEXT
