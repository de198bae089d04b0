"""HBase Thrift1 gateway for happybase, built on thriftpy2 and the HBase Java client.

The Maven mirror used by this project serves hbase-server but no version of hbase-thrift,
so HBase's own ThriftServer cannot be started. This process serves the same Thrift1
interface (happybase's bundled Hbase.thrift) over a buffered transport with the binary
protocol, which are happybase's defaults. Each call is carried out by the HBase 2.6 Java
client in a child JVM that Py4J drives.

NOTE: only the methods that happybase 1.3 calls are implemented; the others raise IOError.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import threading
from pathlib import Path

import happybase
import thriftpy2
from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
from py4j.protocol import Py4JError, Py4JJavaError
from thriftpy2.rpc import make_server

from vitals_stack.settings import StackSettings

log = logging.getLogger("vitals_stack.hbase_thrift")

Hbase = thriftpy2.load(str(Path(happybase.__file__).parent / "Hbase.thrift"), module_name="vitals_hbase_thrift")

MAX_TIMESTAMP = 2**63 - 1


def command(settings: StackSettings) -> list[str]:
    """Return the command that starts the gateway for ``settings``."""
    return [sys.executable, "-m", "vitals_stack.hbase_thrift",
            "--port", str(settings.hbase_thrift_port)]


def split_column(column: bytes) -> tuple[bytes, bytes | None]:
    """Split ``family:qualifier``. A column without a colon names a whole family (qualifier None)."""
    family, separator, qualifier = column.partition(b":")
    return family, qualifier if separator else None


class HbaseHandler:
    """Implementation of the Thrift1 ``Hbase`` service on top of the HBase Java client."""

    def __init__(self, gateway: JavaGateway):
        self.gateway = gateway
        self.jvm = gateway.jvm
        hbase = self.jvm.org.apache.hadoop.hbase
        self.hbase = hbase
        self.connection = hbase.client.ConnectionFactory.createConnection(hbase.HBaseConfiguration.create())
        self.admin = self.connection.getAdmin()
        self.scanners: dict[int, object] = {}
        self.scanner_ids = itertools.count(1)
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ helpers

    def _table_name(self, name: bytes):
        return self.hbase.TableName.valueOf(name)

    def _table(self, name: bytes):
        return self.connection.getTable(self._table_name(name))

    def _add_columns(self, operation, columns: list[bytes] | None) -> None:
        for column in columns or []:
            family, qualifier = split_column(column)
            if qualifier is None:
                operation.addFamily(family)
            else:
                operation.addColumn(family, qualifier)

    def _row_result(self, result, sort_columns: bool = False):
        if result.isEmpty():
            return None
        cells = {}
        sorted_cells = []
        cell_util = self.hbase.CellUtil
        for cell in result.rawCells():
            name = bytes(cell_util.cloneFamily(cell)) + b":" + bytes(cell_util.cloneQualifier(cell))
            value = Hbase.TCell(value=bytes(cell_util.cloneValue(cell)), timestamp=cell.getTimestamp())
            if name not in cells:  # rawCells lists the newest version of a column first
                cells[name] = value
                sorted_cells.append(Hbase.TColumn(columnName=name, cell=value))
        if sort_columns:
            return Hbase.TRowResult(row=bytes(result.getRow()), sortedColumns=sorted_cells)
        return Hbase.TRowResult(row=bytes(result.getRow()), columns=cells)

    def _get(self, row: bytes, columns, timestamp: int | None):
        get = self.hbase.client.Get(row)
        self._add_columns(get, columns)
        if timestamp is not None:
            get.setTimeRange(0, timestamp)
        return get

    # ------------------------------------------------------------------ tables

    def getTableNames(self):
        return [bytes(name.getName()) for name in self.admin.listTableNames()]

    def isTableEnabled(self, tableName):
        return self.admin.isTableEnabled(self._table_name(tableName))

    def enableTable(self, tableName):
        self.admin.enableTable(self._table_name(tableName))

    def disableTable(self, tableName):
        self.admin.disableTable(self._table_name(tableName))

    def compact(self, tableNameOrRegionName):
        self.admin.compact(self._table_name(tableNameOrRegionName))

    def majorCompact(self, tableNameOrRegionName):
        self.admin.majorCompact(self._table_name(tableNameOrRegionName))

    def createTable(self, tableName, columnFamilies):
        name = self._table_name(tableName)
        if self.admin.tableExists(name):
            raise Hbase.AlreadyExists(message=f"table {tableName.decode()} already exists")
        if not columnFamilies:
            raise Hbase.IllegalArgument(message="a table needs at least one column family")
        client = self.hbase.client
        builder = client.TableDescriptorBuilder.newBuilder(name)
        for descriptor in columnFamilies:
            family = client.ColumnFamilyDescriptorBuilder.newBuilder(descriptor.name.rstrip(b":"))
            family.setMaxVersions(descriptor.maxVersions)
            family.setCompressionType(
                self.hbase.io.compress.Compression.Algorithm.valueOf(descriptor.compression.upper()))
            family.setInMemory(descriptor.inMemory)
            family.setBloomFilterType(self.hbase.regionserver.BloomType.valueOf(descriptor.bloomFilterType.upper()))
            family.setBlockCacheEnabled(descriptor.blockCacheEnabled)
            if descriptor.timeToLive is not None and descriptor.timeToLive > 0:
                family.setTimeToLive(descriptor.timeToLive)
            builder.setColumnFamily(family.build())
        self.admin.createTable(builder.build())

    def deleteTable(self, tableName):
        name = self._table_name(tableName)
        if not self.admin.tableExists(name):
            raise Hbase.IOError(message=f"table {tableName.decode()} does not exist")
        self.admin.deleteTable(name)

    def getColumnDescriptors(self, tableName):
        descriptors = {}
        for family in self.admin.getDescriptor(self._table_name(tableName)).getColumnFamilies():
            name = bytes(family.getName()) + b":"
            descriptors[name] = Hbase.ColumnDescriptor(
                name=name,
                maxVersions=family.getMaxVersions(),
                compression=family.getCompressionType().toString(),
                inMemory=family.isInMemory(),
                bloomFilterType=family.getBloomFilterType().toString(),
                bloomFilterVectorSize=0,
                bloomFilterNbHashes=0,
                blockCacheEnabled=family.isBlockCacheEnabled(),
                timeToLive=family.getTimeToLive(),
            )
        return descriptors

    def getTableRegions(self, tableName):
        regions = []
        locator = self.connection.getRegionLocator(self._table_name(tableName))
        try:
            for location in locator.getAllRegionLocations():
                info = location.getRegion()
                regions.append(Hbase.TRegionInfo(
                    startKey=bytes(info.getStartKey()), endKey=bytes(info.getEndKey()),
                    id=info.getRegionId(), name=bytes(info.getRegionName()), version=1,
                    serverName=location.getHostname().encode(), port=location.getPort(),
                ))
        finally:
            locator.close()
        return regions

    # ------------------------------------------------------------------ reads

    def getRowWithColumns(self, tableName, row, columns, attributes):
        return self.getRowsWithColumnsTs(tableName, [row], columns, None, attributes)

    def getRowWithColumnsTs(self, tableName, row, columns, timestamp, attributes):
        return self.getRowsWithColumnsTs(tableName, [row], columns, timestamp, attributes)

    def getRowsWithColumns(self, tableName, rows, columns, attributes):
        return self.getRowsWithColumnsTs(tableName, rows, columns, None, attributes)

    def getRowsWithColumnsTs(self, tableName, rows, columns, timestamp, attributes):
        table = self._table(tableName)
        try:
            gets = self.jvm.java.util.ArrayList()
            for row in rows:
                gets.add(self._get(row, columns, timestamp))
            results = [self._row_result(result) for result in table.get(gets)]
        finally:
            table.close()
        return [result for result in results if result is not None]

    def getVer(self, tableName, row, column, numVersions, attributes):
        return self.getVerTs(tableName, row, column, None, numVersions, attributes)

    def getVerTs(self, tableName, row, column, timestamp, numVersions, attributes):
        get = self._get(row, [column], timestamp)
        get.readVersions(numVersions)
        table = self._table(tableName)
        try:
            result = table.get(get)
        finally:
            table.close()
        cell_util = self.hbase.CellUtil
        return [Hbase.TCell(value=bytes(cell_util.cloneValue(cell)), timestamp=cell.getTimestamp())
                for cell in result.rawCells()]

    # ------------------------------------------------------------------ writes

    def mutateRow(self, tableName, row, mutations, attributes):
        self.mutateRowsTs(tableName, [Hbase.BatchMutation(row=row, mutations=mutations)], None, attributes)

    def mutateRows(self, tableName, rowBatches, attributes):
        self.mutateRowsTs(tableName, rowBatches, None, attributes)

    def mutateRowsTs(self, tableName, rowBatches, timestamp, attributes):
        client = self.hbase.client
        operations = self.jvm.java.util.ArrayList()
        for batch in rowBatches:
            put = client.Put(batch.row) if timestamp is None else client.Put(batch.row, timestamp)
            delete = client.Delete(batch.row) if timestamp is None else client.Delete(batch.row, timestamp)
            for mutation in batch.mutations:
                family, qualifier = split_column(mutation.column)
                target = delete if mutation.isDelete else put
                if not mutation.writeToWAL:
                    target.setDurability(client.Durability.SKIP_WAL)
                if mutation.isDelete:
                    if qualifier is None:
                        delete.addFamily(family)
                    else:
                        delete.addColumns(family, qualifier)
                else:
                    put.addColumn(family, qualifier or b"", mutation.value)
            if not delete.isEmpty():
                operations.add(delete)
            if not put.isEmpty():
                operations.add(put)
        if operations.isEmpty():
            return
        table = self._table(tableName)
        try:
            results = self.gateway.new_array(self.jvm.java.lang.Object, operations.size())
            table.batch(operations, results)
        finally:
            table.close()

    def deleteAllRow(self, tableName, row, attributes):
        self.deleteAllRowTs(tableName, row, MAX_TIMESTAMP, attributes)

    def deleteAllRowTs(self, tableName, row, timestamp, attributes):
        table = self._table(tableName)
        try:
            table.delete(self.hbase.client.Delete(row, timestamp))
        finally:
            table.close()

    def atomicIncrement(self, tableName, row, column, value):
        family, qualifier = split_column(column)
        table = self._table(tableName)
        try:
            return table.incrementColumnValue(row, family, qualifier or b"", value)
        finally:
            table.close()

    # ------------------------------------------------------------------ scanners

    def scannerOpen(self, tableName, startRow, columns, attributes):
        return self.scannerOpenWithScan(tableName, Hbase.TScan(startRow=startRow, columns=columns), attributes)

    def scannerOpenTs(self, tableName, startRow, columns, timestamp, attributes):
        scan = Hbase.TScan(startRow=startRow, columns=columns, timestamp=timestamp)
        return self.scannerOpenWithScan(tableName, scan, attributes)

    def scannerOpenWithStop(self, tableName, startRow, stopRow, columns, attributes):
        scan = Hbase.TScan(startRow=startRow, stopRow=stopRow, columns=columns)
        return self.scannerOpenWithScan(tableName, scan, attributes)

    def scannerOpenWithStopTs(self, tableName, startRow, stopRow, columns, timestamp, attributes):
        scan = Hbase.TScan(startRow=startRow, stopRow=stopRow, columns=columns, timestamp=timestamp)
        return self.scannerOpenWithScan(tableName, scan, attributes)

    def scannerOpenWithScan(self, tableName, scan, attributes):
        java_scan = self.hbase.client.Scan()
        if scan.startRow:
            java_scan.withStartRow(scan.startRow)
        if scan.stopRow:
            java_scan.withStopRow(scan.stopRow)
        if scan.timestamp is not None:
            java_scan.setTimeRange(0, scan.timestamp)
        if scan.caching is not None:
            java_scan.setCaching(scan.caching)
        if scan.batchSize is not None:
            java_scan.setBatch(scan.batchSize)
        if scan.reversed:
            java_scan.setReversed(True)
        if scan.filterString:
            java_scan.setFilter(self.hbase.filter.ParseFilter().parseFilterString(scan.filterString))
        self._add_columns(java_scan, scan.columns)
        table = self._table(tableName)
        try:
            scanner = table.getScanner(java_scan)
        finally:
            table.close()
        with self.lock:
            scanner_id = next(self.scanner_ids)
            self.scanners[scanner_id] = (scanner, bool(scan.sortColumns))
        return scanner_id

    def scannerGetList(self, id, nbRows):
        with self.lock:
            entry = self.scanners.get(id)
        if entry is None:
            raise Hbase.IllegalArgument(message=f"scanner id {id} is invalid or closed")
        scanner, sort_columns = entry
        results = []
        for result in scanner.next(nbRows):
            row = self._row_result(result, sort_columns)
            if row is not None:
                results.append(row)
        return results

    def scannerClose(self, id):
        with self.lock:
            entry = self.scanners.pop(id, None)
        if entry is None:
            raise Hbase.IllegalArgument(message=f"scanner id {id} is invalid or closed")
        entry[0].close()


class JavaErrorsAsIOError:
    """Wrap a handler so that HBase client exceptions reach the Thrift client as ``IOError``."""

    def __init__(self, handler: HbaseHandler):
        self._handler = handler

    def __getattr__(self, name):
        method = getattr(self._handler, name, None)
        if method is None:
            def unsupported(*args):
                raise Hbase.IOError(message=f"{name} is not supported by this gateway")
            return unsupported

        def call(*args):
            try:
                return method(*args)
            except Py4JJavaError as exc:
                message = str(exc.java_exception.toString())
                log.warning("%s failed: %s", name, message)
                raise Hbase.IOError(message=message) from None
            except Py4JError as exc:
                log.warning("%s failed in the Py4J bridge: %s", name, exc)
                raise Hbase.IOError(message=f"{name} failed: {exc}") from None
        return call


def start_java_client(settings: StackSettings) -> JavaGateway:
    """Launch the Py4J JVM with the HBase client jars. The JVM exits when this process exits."""
    from vitals_stack import components, jars

    py4j_jar = next(components.pyspark_jar_dir().glob("py4j-*.jar"))
    classpath = os.pathsep.join([str(components.hbase_conf_dir(settings)), jars.classpath("hbase", settings)])
    port = launch_gateway(
        port=0, jarpath=str(py4j_jar), classpath=classpath, die_on_exit=True,
        java_path=settings.java,
        javaopts=["-Xmx256m", "-XX:+UseSerialGC", components.log4j2_flag(), *components.HBASE_JAVA17_FLAGS],
        redirect_stdout=sys.stdout, redirect_stderr=sys.stdout,
    )
    return JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve HBase's Thrift1 API for happybase on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True, help="TCP port of the Thrift server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = StackSettings()
    gateway = start_java_client(settings)
    handler = JavaErrorsAsIOError(HbaseHandler(gateway))
    server = make_server(Hbase.Hbase, handler, host="127.0.0.1", port=args.port, client_timeout=None)
    log.info("HBase Thrift1 gateway listening on 127.0.0.1:%d (buffered transport, binary protocol)", args.port)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
